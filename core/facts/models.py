"""pydantic models of the FACTS SIS records factsync reads and writes.

Field names are spelled exactly as FACTS spells them (``parentID``, ``familyId`` vs ``familyID``),
so a model dumps back to the same JSON the API serves. FACTS pads blank text with spaces and adds
fields over time: strings are trimmed, and unknown fields are kept rather than rejected.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

T = TypeVar("T")


class FactsModel(BaseModel):
    """Base: tolerate unknown fields, trim padded strings."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True, populate_by_name=True)


class PersonVM(FactsModel):
    personId: int
    firstName: str | None = None
    lastName: str | None = None
    middleName: str | None = None
    nickName: str | None = None
    gender: str | None = None
    salutation: str | None = None
    suffix: str | None = None
    email: str | None = None
    email2: str | None = None
    username: str | None = None
    homePhone: str | None = None
    cellPhone: str | None = None
    addressID: int | None = None
    deceased: bool | None = None
    modifiedDate: datetime | None = None
    birthdate: datetime | None = None
    pathToPicture: str | None = None
    legacyPersonId: str | None = None
    hasProfilePicture: bool = False


class AddressVM(FactsModel):
    addressID: int | None = None


class DemographicsModel(FactsModel):
    person: PersonVM | None = None
    address: AddressVM | None = None


class StudentSchoolModel(FactsModel):
    status: str | None = None
    substatus: str | None = None
    enrollDate: datetime | None = None
    withdrawDate: datetime | None = None
    withdrawReason: str | None = None
    graduationDate: datetime | None = None
    gradeLevel: str | None = None
    nextStatus: str | None = None
    nextSchoolCode: str | None = None
    nextGradeLevel: str | None = None


class StudentLockerModel(FactsModel):
    id: int
    name: str | None = None


class StudentModelV1_3(FactsModel):
    personStudentId: int
    studentId: int
    configSchoolId: int = 0
    schoolCode: str | None = None
    studentUDID: str | None = None
    classYear: str | None = None
    advisorId: str | None = None
    gender: str | None = None
    birthdate: str | None = None
    homeroom: str | None = None
    busOrCarpool: str | None = None
    school: StudentSchoolModel | None = None
    locker: list[StudentLockerModel] | None = None
    demographics: DemographicsModel | None = None


class ParentStudentVM_V1_1(FactsModel):
    id: int | None = None
    parentID: int
    studentID: int
    relationship: str | None = None
    custody: bool | None = None
    correspondence: bool | None = None
    grandparent: bool | None = None
    emergencyContact: bool | None = None
    reportCard: bool | None = None
    pwBlock: bool | None = None
    pickUp: bool | None = None
    parentsWeb: bool | None = None
    reEnroll: bool | None = None
    demographics: DemographicsModel | None = None


class PersonFamilyVM(FactsModel):
    personId: int
    familyId: int
    parent: bool | None = None
    student: bool | None = None
    financialResponsibility: bool | None = None
    financialResponsibilityPercent: str | None = Field(default=None, max_length=50)
    familyOrder: int | None = None
    factsCustomer: bool = False


class FamilyConfigVmOutV1_1(FactsModel):
    familyID: int
    familyName: str | None = None
    familyName2: str | None = None
    familyNameBP: str | None = None
    familyLetter: str | None = None
    familyUDID: str | None = None
    enableWeb: bool | None = None
    unlisted: int | None = None
    note: str | None = None
    accounting: bool | None = None
    accountingCode: str | None = None
    parentsWebFinancialBlock: bool = False
    modifiedBy: int | None = None
    modifiedDate: datetime | None = None


class SchoolYearModel(FactsModel):
    yearId: int
    yearName: str | None = None
    firstDay: datetime | None = None
    lastDay: datetime | None = None
    schoolCode: str | None = None
    allowInquiry: bool | None = None
    blockAcademicYear: bool = False


class SchoolConfigVmOut(FactsModel):
    configSchoolID: int
    schoolCode: str | None = None
    schoolName: str | None = None
    districtName: str | None = None
    defaultYearId: int | None = None
    nextYearId: int | None = None
    active: bool = True
    schoolLMS: bool = False
    address: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    email: str | None = None
    phone: str | None = None
    fax: str | None = None


class StudentServiceHoursModel(FactsModel):
    """One FACTS service-hours row; the same body serves /Students and /Parents ServiceHours."""

    serviceHoursId: int = 0
    personId: int | None = None
    description: str | None = Field(default=None, max_length=255)
    hours: float | None = None
    date: datetime | None = None
    note: str | None = Field(default=None, max_length=255)
    verifiedBy: str | None = None
    createdBy: int | None = None


class ServiceHoursRead(StudentServiceHoursModel):
    """A service-hours row as read back from FACTS: untrusted, so one odd row (a 300-character
    note, hours as text, a broken date) never fails the whole read. A field that cannot be read
    is None: write-back then never takes the row for what it is not."""

    description: str | None = None
    note: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _tolerate(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return {"serviceHoursId": 0}
        out = dict(data)
        for name, kind in (("serviceHoursId", int), ("personId", int), ("createdBy", int),
                           ("hours", float)):
            value = out.get(name)
            if value is None:
                continue
            try:
                ok = not isinstance(value, bool) and kind(value) == kind(value)  # NaN: no
            except (TypeError, ValueError, OverflowError):
                ok = False
            if not ok:
                out[name] = 0 if name == "serviceHoursId" else None
        for name in ("description", "note", "verifiedBy"):
            if out.get(name) is not None and not isinstance(out[name], str):
                out[name] = str(out[name])
        if out.get("date") is not None:
            try:
                TypeAdapter(datetime).validate_python(out["date"])
            except ValueError:
                out["date"] = None
        return out


class PagedResult(FactsModel, Generic[T]):
    """The envelope of every FACTS list GET. ``nextPage`` is absolute, and ``""`` on the last page."""

    results: list[T] = Field(default_factory=list)
    currentPage: int = 1
    pageCount: int = 0
    pageSize: int = 0
    rowCount: int = 0
    nextPage: str | None = ""


# --- error bodies -------------------------------------------------------------------------------


class GatewayError(FactsModel):
    """Azure API Management shape: 401 keys, 429 rate limit, 403 quota, 404 route."""

    statusCode: int
    message: str


class ProblemDetails(FactsModel):
    """ASP.NET shape: 403 scope, 500 unknown filter/sort field ("<name> not found.")."""

    type: str | None = None
    title: str | None = None
    status: int | None = None
    detail: str | None = None
    instance: str | None = None
    extensions: dict[str, Any] = Field(default_factory=dict)


class Error(FactsModel):
    code: str
    message: str
    target: str | None = None
    details: list[Error] | None = None
    innererror: Error | None = None


class ErrorResponse(FactsModel):
    """Controller shape: by-id 404, 400/422 validation."""

    error: Error
