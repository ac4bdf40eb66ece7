"""Slim FACTS records: only the fields a roster needs, read page by page, one bad row at a time.

A roster of a live tenant holds hundreds of thousands of rows; full pydantic models of every one
cost hundreds of MB. These frozen, slotted dataclasses keep the attribute names ``core.sync``
reads (``personId``, ``school.status``...). :func:`read_rows` validates a page in one pydantic
call, and a row that cannot be read (wrong type, missing key, unparseable date) becomes an
:class:`Unreadable` that names the resource, the record's key and the field, instead of an
exception that blocks the sync.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Generic, TypeVar, Union

from pydantic import (
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)
from typing_extensions import TypedDict

from core.facts.models import StudentServiceHoursModel

R = TypeVar("R")
INT32 = 2**31 - 1
FactsId = Annotated[int, Field(ge=-(2**31), le=INT32)]
"""FACTS ids are int32: a 23-digit value is unreadable here, not an overflow in the store."""
_CONFIG = ConfigDict(str_strip_whitespace=True, coerce_numbers_to_str=True)


@dataclass(frozen=True, slots=True)
class Person:
    __pydantic_config__ = _CONFIG
    personId: FactsId
    firstName: str | None = None
    lastName: str | None = None
    email: str | None = None
    email2: str | None = None


@dataclass(frozen=True, slots=True)
class StudentSchool:
    __pydantic_config__ = _CONFIG
    status: str | None = None
    gradeLevel: str | None = None


@dataclass(frozen=True, slots=True)
class Student:
    """A /Students row; its person (``includes=demographics``) goes to the roster's people."""

    __pydantic_config__ = _CONFIG
    studentId: FactsId
    schoolCode: str | None = None
    school: StudentSchool | None = None


@dataclass(frozen=True, slots=True)
class _StudentRow(Student):
    demographics: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ParentLink:
    __pydantic_config__ = _CONFIG
    parentID: FactsId
    studentID: FactsId
    id: str | None = None
    relationship: str | None = None
    custody: bool | None = None
    grandparent: bool | None = None
    correspondence: bool | None = None


@dataclass(frozen=True, slots=True)
class Membership:
    __pydantic_config__ = _CONFIG
    personId: FactsId
    familyId: FactsId
    familyOrder: int | None = None


@dataclass(frozen=True, slots=True)
class Family:
    __pydantic_config__ = _CONFIG
    familyID: FactsId
    familyName: str | None = None


@dataclass(frozen=True, slots=True)
class SchoolYear:
    __pydantic_config__ = _CONFIG
    yearId: FactsId
    yearName: str | None = None
    firstDay: datetime | None = None
    lastDay: datetime | None = None
    schoolCode: str | None = None


@dataclass(frozen=True, slots=True)
class School:
    __pydantic_config__ = _CONFIG
    configSchoolID: FactsId
    schoolCode: str | None = None
    schoolName: str | None = None
    defaultYearId: int | None = None


# --- unreadable records -------------------------------------------------------------------------


@dataclass(frozen=True)
class Unreadable:
    """A FACTS record dropped from the roster, and why: ``Person 1202: email {} is not text``.

    ``key`` is the record's key as FACTS sent it; when the key itself cannot be read, ``page``
    and ``row`` (1-based) say where it was. ``person_ids``/``family_ids`` are the readable ids
    in the record: accounts of those people are held (never archived or changed) this run.
    """

    resource: str
    key: str
    field: str
    problem: str
    page: int | None = None
    row: int | None = None
    person_ids: tuple[int, ...] = ()
    family_ids: tuple[int, ...] = ()

    @property
    def key_unreadable(self) -> bool:
        return self.row is not None

    def where(self) -> str:
        return f" (page {self.page}, row {self.row})" if self.row is not None else ""

    def __str__(self) -> str:
        return f"{self.resource} {self.key}{self.where()}: {self.field} {self.problem}"

    def to_json(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "key": self.key,
            "field": self.field,
            "problem": self.problem,
            "page": self.page,
            "row": self.row,
        }


@dataclass(frozen=True)
class Resource(Generic[R]):
    """How one FACTS list is read: its record type, key fields and the ids worth holding."""

    name: str
    record: type[R]
    key_fields: tuple[str, ...]
    person_fields: tuple[str, ...] = ()
    family_fields: tuple[str, ...] = ()
    alt_key: tuple[str, ...] = ()
    """Key fields used when ``key_fields`` are absent (a ParentStudent without ``id``)."""

    @property
    def adapter(self) -> TypeAdapter[list[R]]:
        return _adapter(self.record)  # type: ignore[arg-type]

    @property
    def page(self) -> TypeAdapter[dict[str, Any]]:
        """Parses a FACTS list page straight from its JSON bytes, keeping of each row only the
        fields this record reads (as sent, unvalidated): a live page's other fields never become
        Python objects. Rows that are not objects are kept as they are, to be reported.

        Validated with ``context=Wanted(...)``, a row whose id is readable but not wanted is
        replaced by :data:`DROPPED` as soon as it is parsed (its place on the page is kept)."""
        return _page_adapter(self.record)  # type: ignore[arg-type]


@cache
def _adapter(record: type[Any]) -> TypeAdapter[list[Any]]:
    return TypeAdapter(list[record])  # type: ignore[valid-type]


DROPPED: Any = type("Dropped", (), {"__repr__": lambda self: "DROPPED", "__slots__": ()})()
"""Stands for a row dropped as its page was parsed: not one the roster needs."""


@dataclass(frozen=True)
class Wanted:
    """The parse context that drops unneeded rows: those whose ``field`` is an id not in ``ids``
    (a row whose id cannot be read is kept, to be reported)."""

    field: str
    ids: Collection[int]


def _drop_unwanted(value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
    row = handler(value)
    wanted = info.context
    if isinstance(wanted, Wanted) and isinstance(row, dict):
        key = as_id(row.get(wanted.field))
        if key is not None and key not in wanted.ids:
            return DROPPED
    return row


def _or_raw(kind: Any) -> Any:
    return Annotated[Union[kind, Any], Field(union_mode="left_to_right")]  # noqa: UP007


def _raw_row(record: type[Any]) -> Any:
    fields: dict[str, Any] = {f.name: Any for f in dataclasses.fields(record)}
    if "demographics" in fields:  # a student's person rides along: keep its fields too
        person = _raw_row(Person)
        fields["demographics"] = _or_raw(
            TypedDict("RawDemographics", {"person": _or_raw(person)}, total=False)  # type: ignore[operator]
        )
    return TypedDict(f"Raw{record.__name__}", fields, total=False)  # type: ignore[operator]


@cache
def _page_adapter(record: type[Any]) -> TypeAdapter[dict[str, Any]]:
    envelope: Any = TypedDict(
        "RawPage",
        {
            "results": list[  # type: ignore[misc]
                Annotated[_or_raw(_raw_row(record)), WrapValidator(_drop_unwanted)]
            ],
            "currentPage": Any,
            "pageCount": Any,
            "pageSize": Any,
            "rowCount": Any,
            "nextPage": Any,
        },
        total=False,
    )
    adapter: TypeAdapter[dict[str, Any]] = TypeAdapter(envelope)  # type: ignore[arg-type]
    return adapter


PEOPLE = Resource("Person", Person, ("personId",), person_fields=("personId",))
STUDENTS = Resource("Student", _StudentRow, ("studentId",), person_fields=("studentId",))
PARENT_LINKS = Resource(
    "ParentStudent",
    ParentLink,
    ("id",),
    person_fields=("parentID", "studentID"),
    alt_key=("parentID", "studentID"),
)
MEMBERSHIPS = Resource(
    "PersonFamily",
    Membership,
    ("personId", "familyId"),
    person_fields=("personId",),
    family_fields=("familyId",),
)
FAMILIES = Resource("Family", Family, ("familyID",), family_fields=("familyID",))
SCHOOL_YEARS = Resource("SchoolYear", SchoolYear, ("yearId",))
SCHOOLS = Resource("SchoolConfiguration", School, ("configSchoolID",))


def as_id(value: Any) -> int | None:
    """``value`` as a FACTS id (an int32, or digits), or None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if -(2**31) <= value <= INT32 else None
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit() and len(text) <= 10:
            number = int(text)
            return number if number <= INT32 else None
    return None


def shown(value: Any, limit: int = 40) -> str:
    """A value as a message may quote it: control characters escaped, cut to ``limit``."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            text = repr(value)
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _quoted(value: Any) -> str:
    return "null" if value is None else f"'{shown(value)}'" if isinstance(value, str) else shown(value)


def problem_text(error: Any) -> str:
    """What is wrong, in an admin's words, from one pydantic error."""
    kind = str(error.get("type", ""))
    value = error.get("input")
    if kind == "missing":
        return "is missing"
    if value is None:
        return "is empty (null)"
    quoted = _quoted(value)
    if kind.startswith("int") or kind.startswith("greater_than") or kind.startswith("less_than"):
        if kind.startswith(("greater_than", "less_than")) or (
            isinstance(value, int | str) and str(value).strip().lstrip("-").isdigit()
        ):
            return f"{quoted} is out of range for a FACTS id"
        return f"{quoted} is not a number"
    if kind.startswith(("datetime", "date")):
        return f"{quoted} is not a date"
    if kind.startswith("bool"):
        return f"{quoted} is not true or false"
    if kind.startswith("string"):
        return f"{quoted} is not text"
    if kind in ("dataclass_type", "model_type", "dict_type", "model_attributes_type"):
        return f"{quoted} is not an object"
    if kind.startswith("list"):
        return f"{quoted} is not a list"
    return f"{quoted}: {str(error.get('msg', 'cannot be read')).lower()}"


def _key(resource: Resource[Any], row: dict[str, Any]) -> tuple[str, bool]:
    """The record's key as text, and whether it is readable."""
    fields = resource.key_fields
    if resource.alt_key and all(row.get(f) in (None, "") for f in fields):
        fields = resource.alt_key
    values = [row.get(f) for f in fields]
    if resource is PARENT_LINKS and fields == ("id",):
        value = values[0]
        return shown(value), isinstance(value, str | int) and not isinstance(value, bool)
    ids = [as_id(v) for v in values]
    if all(i is not None for i in ids):
        return "-".join(str(i) for i in ids), True
    return "-".join(shown(v) if v is not None else "null" for v in values), False


def unreadable(
    resource: Resource[Any],
    row: Any,
    field: str,
    problem: str,
    page: int | None,
    index: int | None,
) -> Unreadable:
    """The Unreadable for one raw row (``index`` 0-based on its page)."""
    if not isinstance(row, dict):
        return Unreadable(
            resource.name, shown(row), "record", "is not an object", page,
            None if index is None else index + 1,
        )  # fmt: skip
    key, readable = _key(resource, row)
    person_ids = tuple(i for f in resource.person_fields if (i := as_id(row.get(f))) is not None)
    family_ids = tuple(i for f in resource.family_fields if (i := as_id(row.get(f))) is not None)
    return Unreadable(
        resource.name,
        key,
        field,
        problem,
        page,
        None if readable or index is None else index + 1,
        person_ids,
        family_ids,
    )


def read_rows(
    resource: Resource[R],
    rows: Sequence[Any],
    page: int | None = None,
    positions: Sequence[int] | None = None,
) -> tuple[list[R], list[Unreadable]]:
    """Validate a page of raw rows: the records, and an Unreadable for each row that fails.

    ``positions``: where each row sat on its page (0-based), when ``rows`` is a selection of it.
    """
    adapter = resource.adapter
    bad: dict[int, Unreadable] = {}
    todo = list(range(len(rows)))
    while True:
        try:
            records = adapter.validate_python([rows[i] for i in todo])
            return records, [bad[i] for i in sorted(bad)]
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
        first: dict[int, Any] = {}
        for err in errors:
            loc = err.get("loc") or ()
            if not loc or not isinstance(loc[0], int):
                raise
            first.setdefault(todo[loc[0]], err)
        for index, err in first.items():
            path = [str(p) for p in err["loc"][1:]]
            field = ".".join(path) if path else "record"
            where = positions[index] if positions is not None else index
            bad[index] = unreadable(resource, rows[index], field, problem_text(err), page, where)
        todo = [i for i in todo if i not in bad]


def orphan_links(
    links: Iterable[ParentLink], known: set[int]
) -> tuple[list[ParentLink], list[Unreadable]]:
    """Links whose parent is a person FACTS does not list are unreadable: they point at nobody."""
    kept: list[ParentLink] = []
    lost: list[Unreadable] = []
    for link in links:
        if link.parentID in known:
            kept.append(link)
            continue
        key = link.id if link.id else f"{link.parentID}-{link.studentID}"
        lost.append(
            Unreadable(
                PARENT_LINKS.name,
                shown(key),
                "parentID",
                f"{link.parentID} points at no person in /People",
                person_ids=(link.parentID,),
            )
        )
    return kept, lost


# --- service hours read back ------------------------------------------------------------------


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
