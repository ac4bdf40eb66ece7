"""pydantic models of the FACTS SIS records factsync reads and writes: the typed contract.

Field names, types and requiredness follow the Swagger digest (``facts-openapi-subset.json``,
``extends`` chains included); ``tests/test_models_subset.py`` walks both and fails on any drift.
A required field is never ``None`` (flags keep a default so a body we build needs not name them);
every other field is optional and takes ``None``.
Names are spelled exactly as FACTS spells them (``parentID``, ``familyId`` vs ``familyID``), so a
model dumps back to the JSON the API serves. FACTS pads blank text with spaces, sends ``null``
where the Swagger says string or date, and adds fields over time: strings are trimmed, optional
fields take ``None``, numbers sent where text is expected become text, unknown fields are kept.

The roster fetch does not build these (it keeps slim records, ``core.facts.records``); they type
the service-hours rows and the sandbox's own validation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class FactsModel(BaseModel):
    """Base: tolerate unknown fields, trim padded strings, take numbers where text is expected."""

    model_config = ConfigDict(
        extra="allow", str_strip_whitespace=True, populate_by_name=True, coerce_numbers_to_str=True
    )


class CreatePersonBaseDto(FactsModel):
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


class PersonVM(CreatePersonBaseDto):
    personId: int
    hasProfilePicture: bool = False


class AddressVM(FactsModel):
    addressID: int
    address1: str | None = Field(default=None, max_length=255)
    address2: str | None = Field(default=None, max_length=255)
    city: str | None = Field(default=None, max_length=255)
    state: str | None = Field(default=None, max_length=255)
    zip: str | None = Field(default=None, max_length=255)
    country: str | None = Field(default=None, max_length=255)
    modifiedBy: int | None = None
    modifiedDate: datetime | None = None
    greeting1: str | None = Field(default=None, max_length=128)
    greeting2: str | None = Field(default=None, max_length=128)
    greeting3: str | None = Field(default=None, max_length=128)
    greeting4: str | None = Field(default=None, max_length=128)
    greeting5: str | None = Field(default=None, max_length=128)
    newStudentInquiryID: int | None = None


class DemographicsModel(FactsModel):
    person: PersonVM | None = None
    address: AddressVM | None = None


class DemographicDtoOut(FactsModel):
    """The same shape as DemographicsModel, under the name the ParentStudent list uses."""

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


class StudentRequestV1_1(FactsModel):
    school: StudentSchoolModel | None = None
    locker: list[StudentLockerModel] | None = None
    configSchoolId: int = 0
    studentUDID: str | None = None


class StudentModelV1_3(StudentRequestV1_1):
    personStudentId: int
    studentId: int
    schoolCode: str | None = None
    classYear: str | None = None
    advisorId: str | None = None
    gender: str | None = None
    birthdate: str | None = None
    homeroom: str | None = None
    busOrCarpool: str | None = None
    demographics: DemographicsModel | None = None


class EntityOfString(FactsModel):
    id: str | None = None
    """A string (FACTS's ``EntityOfString``): never rely on it being a number."""


class DomainEntity(EntityOfString):
    pass


class ParentStudentEntity(DomainEntity):
    parentID: int
    studentID: int
    custody: bool | None = None
    correspondence: bool | None = None
    relationship: str | None = None
    grandparent: bool | None = None
    emergencyContact: bool | None = None
    reportCard: bool | None = None
    pwBlock: bool | None = None
    pickUp: bool | None = None
    parentsWeb: bool | None = None
    reEnroll: bool | None = None


class ParentStudentVM_V1_1(ParentStudentEntity):
    demographics: DemographicDtoOut | None = None


class PersonFamilyVM(FactsModel):
    personId: int
    familyId: int
    parent: bool | None = None
    student: bool | None = None
    financialResponsibility: bool | None = None
    financialResponsibilityPercent: str | None = Field(default=None, max_length=50)
    familyOrder: int | None = None
    factsCustomer: bool = False


class FamilyConfigVmInV1_1(FactsModel):
    familyName: str | None = None
    enableWeb: bool | None = None
    unlisted: int | None = None
    note: str | None = None
    modifiedBy: int | None = None
    modifiedDate: datetime | None = None
    familyNameBP: str | None = None
    parentsWebFinancialBlock: bool = False
    familyUDID: str | None = None
    familyName2: str | None = None
    familyLetter: str | None = None
    accounting: bool | None = None
    accountingCode: str | None = None


class FamilyConfigVmOutV1_1(FamilyConfigVmInV1_1):
    familyID: int


class SchoolYearRequest(FactsModel):
    yearName: str | None = None
    allowInquiry: bool | None = None
    blockAcademicYear: bool = False


class SchoolYearModel(SchoolYearRequest):
    yearId: int
    firstDay: datetime | None = None
    lastDay: datetime | None = None
    schoolCode: str | None = None


class SchoolConfigVmIn(FactsModel):
    fax: str | None = None
    phone: str | None = None


class SchoolConfigVmOut(SchoolConfigVmIn):
    active: bool = True
    address: str | None = None
    city: str | None = None
    configSchoolID: int
    defaultTermId: int | None = None
    defaultYearId: int | None = None
    districtName: str | None = None
    email: str | None = None
    modifiedBy: int | None = None
    modifiedDate: datetime | None = None
    nextYearId: int | None = None
    parentAlert: bool | None = None
    pwTermID: int | None = None
    pwTermID2: int | None = None
    pwYearID: int | None = None
    schoolCode: str | None = None
    schoolLMS: bool = False
    schoolName: str | None = None
    state: str | None = None
    zip: str | None = None


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


class ServiceHoursModel(StudentServiceHoursModel):
    """What PUT /Parents/ServiceHours/{id} answers: the row and the school year it falls in."""

    yearId: int | None = None


class PagedResult(FactsModel, Generic[T]):
    """The envelope of every FACTS list GET. ``nextPage`` is absolute, and ``""`` on the last page."""

    results: list[T] | None = Field(default_factory=list)
    currentPage: int = 1
    pageCount: int = 0
    pageSize: int = 0
    rowCount: int = 0
    nextPage: str | None = ""


# --- error bodies -------------------------------------------------------------------------------


class GatewayError(FactsModel):
    """Azure API Management shape (not in FACTS's Swagger): 401 keys, 429, 403 quota, 404 route."""

    statusCode: int
    message: str


class ProblemDetails(FactsModel):
    """ASP.NET shape: 403 scope, 500 errors. Live FACTS may send a bare stack trace instead."""

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
