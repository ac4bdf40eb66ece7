"""The FACTS endpoints over a School: lists with Sieve paging, by-id reads, PATCH, service hours.

Pure request -> response over in-memory state; auth, limits, faults and caching live in
:mod:`core.facts.sandbox.engine`. Callers hold the engine's lock.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from pydantic import ValidationError

from core.facts.models import PersonVM
from core.facts.records import as_id
from core.facts.sandbox import sieve
from core.facts.sandbox.hours import HoursStore, Kind
from core.facts.sandbox.jsonpatch import PatchError, apply_patch
from core.facts.sandbox.messages import (
    JSON_TYPE,
    Request,
    Response,
    dumps,
    error_response,
    json_response,
    problem,
    server_error,
)
from core.facts.sandbox.routes import Match
from core.facts.sandbox.school import Record, School
from core.facts.sandbox.sieve import FieldSpec, fields

SPECS: dict[str, dict[str, FieldSpec]] = {
    "people": fields(personId="int", lastName="str", email="str", modifiedDate="date"),
    "students": fields(
        studentId="int",
        personStudentId="int",
        schoolCode="str",
        classYear="str",
    )
    | fields(
        **{
            "school.status": "str",
            "school.gradeLevel": "str",
            "school.enrollDate": "date",
            "school.withdrawDate": "date",
            "school.graduationDate": "date",
        }
    ),
    "parentStudent": fields(parentID="int", studentID="int", correspondence="bool"),
    "personFamily": fields(personId="int", familyId="int"),
    "families": fields(familyID="int", familyName="str", modifiedDate="date"),
    "schoolYears": fields(
        yearId="int", schoolCode="str", yearName="str", firstDay="date", lastDay="date"
    ),
    "schoolConfigurations": fields(configSchoolID="int", schoolCode="str"),
    "hours": fields(personId="int", date="date"),
}
MAX_TEXT = 255
Transform = Callable[[Record], Record]


def iso_now(clock: Callable[[], float]) -> str:
    return datetime.fromtimestamp(clock(), UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Api:
    """Endpoint logic and the indexes that keep a 6,000-row page fast."""

    def __init__(
        self,
        school: School,
        hours: HoursStore,
        clock: Callable[[], float],
        default_page_size: int,
        error_body: str = "stack-trace",
    ) -> None:
        self.school = school
        self.error_body = error_body
        self.hours = hours
        self.clock = clock
        self.default_page_size = default_page_size
        self.people_by_id: dict[int, Record] = {}
        self.students_by_psid: dict[int, Record] = {}
        self.families_by_id: dict[int, Record] = {}
        self.years_by_id: dict[int, Record] = {}
        # Serialized rows by id(row); the rows live as long as the school, so ids stay valid.
        self._frags: dict[int, bytes] = {}
        self._demo_frags: dict[int, bytes] = {}
        self.reindex()

    def reindex(self) -> None:
        """Rebuild the by-id indexes and forget serialized rows (after editing the school)."""
        school = self.school
        self.people_by_id = _index(school.people, "personId")
        self.students_by_psid = _index(school.students, "personStudentId")
        self.families_by_id = _index(school.families, "familyID")
        self.years_by_id = _index(school.schoolYears, "yearId")
        self.forget()

    # --- dispatch ------------------------------------------------------------------------------

    def dispatch(self, match: Match, req: Request) -> Response:
        name, ident = match.route.name, match.ident
        method = req.method.upper()
        if name == "people":
            return self.list(req, match, self.school.people, SPECS["people"])
        if name == "students":
            includes = {i.strip().lower() for i in (req.param("includes") or "").split(",")}
            transform = self._with_demographics if "demographics" in includes else None
            return self.list(req, match, self.school.students, SPECS["students"], transform)
        if name == "parentStudent":
            return self.list(req, match, self.school.parentStudent, SPECS["parentStudent"])
        if name == "personFamily":
            return self.list(req, match, self.school.personFamily, SPECS["personFamily"])
        if name == "families":
            return self.list(req, match, self.school.families, SPECS["families"])
        if name == "schoolYears":
            return self.list(req, match, self.school.schoolYears, SPECS["schoolYears"])
        if name == "schoolConfigurations":
            return self.list(
                req, match, self.school.schoolConfigurations, SPECS["schoolConfigurations"]
            )
        assert ident is not None or name in ("studentHours", "parentHours")
        if name == "person":
            return self.person(method, ident or 0, req)
        if name == "student":
            return self._by_id(self.students_by_psid.get(ident or 0), "Student", ident)
        if name == "family":
            return self._by_id(self.families_by_id.get(ident or 0), "Family", ident)
        if name == "schoolYear":
            return self._by_id(self.years_by_id.get(ident or 0), "SchoolYear", ident)
        kind: Kind = "students" if name.startswith("student") else "parents"
        if name in ("studentHours", "parentHours"):
            if method == "POST":
                return self.hours_post(kind, req)
            return self.list(req, match, self.hours.rows[kind], SPECS["hours"], cache=False)
        return self.hours_item(kind, method, ident or 0, req)

    @staticmethod
    def _by_id(row: Record | None, what: str, ident: int | None) -> Response:
        if row is None:
            return error_response(404, "NotFound", f"{what} {ident} was not found.")
        return json_response(200, row)

    # --- lists ---------------------------------------------------------------------------------

    def list(
        self,
        req: Request,
        match: Match,
        rows: list[Record],
        spec: dict[str, FieldSpec],
        transform: Transform | None = None,
        cache: bool = True,
    ) -> Response:
        page, size, bad = self._paging(req)
        if bad is not None:
            return bad
        try:
            predicate = sieve.compile_filters(req.param("filters") or "", spec)
            sorts = sieve.parse_sorts(req.param("sorts") or "", spec)
        except sieve.UnknownField as exc:
            return server_error(f"{exc.name} not found.", match.canonical, self.error_body, "sieve")
        except sieve.BadValue as exc:
            return server_error(str(exc), match.canonical, self.error_body, "sieve")
        selected = rows if predicate is None else [r for r in rows if predicate(r)]
        if sorts:
            selected = sieve.apply_sorts(selected, sorts)
        row_count = len(selected)
        page_count = math.ceil(row_count / size) if row_count else 0
        chunk = selected[(page - 1) * size : page * size]
        next_page = self._next_page(req, match, size, page + 1) if page < page_count else ""
        rest = {
            "currentPage": page,
            "pageCount": page_count,
            "pageSize": size,
            "rowCount": row_count,
            "nextPage": next_page,
        }
        if transform is not None:
            frags = [self._fragment(r, self._demo_frags, transform) for r in chunk]
        elif not cache:
            frags = [dumps(r) for r in chunk]
        else:
            frags = [self._fragment(r, self._frags) for r in chunk]
        body = b'{"results":[' + b",".join(frags) + b"]," + dumps(rest)[1:]
        return Response(200, body, {"content-type": JSON_TYPE})

    @staticmethod
    def _fragment(
        row: Record, cache: dict[int, bytes], transform: Transform | None = None
    ) -> bytes:
        """A row's JSON, serialized once: big pages are then a join, not a full json.dumps."""
        frag = cache.get(id(row))
        if frag is None:
            frag = dumps(transform(row) if transform is not None else row)
            cache[id(row)] = frag
        return frag

    def forget(self) -> None:
        """Drop serialized rows after a change to the school's records."""
        self._frags.clear()
        self._demo_frags.clear()

    def _paging(self, req: Request) -> tuple[int, int, Response | None]:
        values: dict[str, int] = {}
        for name, default in (("Page", 1), ("PageSize", self.default_page_size)):
            raw = req.param(name)
            if raw is None or raw.strip() == "":
                values[name] = default
                continue
            try:
                values[name] = int(raw)
            except ValueError:
                bad = problem(
                    400,
                    f"The value '{raw}' is not valid for {name}.",
                    errors={name: [f"The value '{raw}' is not valid."]},
                )
                return 1, 1, bad
        page = max(1, values["Page"])
        size = values["PageSize"] if values["PageSize"] > 0 else self.default_page_size
        return page, size, None

    @staticmethod
    def _next_page(req: Request, match: Match, size: int, page: int) -> str:
        skip = {"page", "pagesize", "subscription-key"}
        parts = [
            f"{quote(k, safe='-_.')}={quote(v, safe=',|*@!_-.:')}"
            for k, v in req.query
            if k.lower() not in skip
        ]
        parts += [f"PageSize={size}", f"Page={page}"]
        return f"{req.base_url.rstrip('/')}{match.canonical}?{'&'.join(parts)}"

    def _with_demographics(self, student: Record) -> Record:
        if not isinstance(student, dict):
            return student
        ident = as_id(student.get("studentId"))
        person = self.people_by_id.get(ident) if ident is not None else None
        address: Record | None = None
        address_id = as_id(person.get("addressID")) if person is not None else None
        if address_id:
            address = _address(address_id)
        return {**student, "demographics": {"person": person, "address": address}}

    # --- people --------------------------------------------------------------------------------

    def person(self, method: str, ident: int, req: Request) -> Response:
        person = self.people_by_id.get(ident)
        if person is None:
            return error_response(404, "NotFound", f"Person {ident} was not found.")
        if method == "GET":
            return json_response(200, person)
        body, bad = _json_body(req)
        if bad is not None:
            return bad
        if method == "PATCH":
            try:
                updated = apply_patch(person, body)
            except PatchError as exc:
                return error_response(400, "BadRequest", f"Invalid patch document: {exc}.")
        else:
            if not isinstance(body, dict):
                return error_response(400, "BadRequest", "The body must be a PersonVM object.")
            updated = {**person, **body}
        if updated.get("personId") != ident:
            return error_response(422, "ValidationFailed", "personId cannot change.", "personId")
        try:
            PersonVM.model_validate(updated)
        except ValidationError as exc:
            first = exc.errors()[0]
            target = ".".join(str(p) for p in first["loc"])
            return error_response(422, "ValidationFailed", f"{target}: {first['msg']}", target)
        updated["modifiedDate"] = iso_now(self.clock)
        person.clear()
        person.update(updated)
        self.forget()
        return json_response(200, person)

    # --- service hours -------------------------------------------------------------------------

    def hours_post(self, kind: Kind, req: Request) -> Response:
        body, bad = _json_body(req)
        if bad is not None:
            return bad
        row, bad = self._validate_hours(body)
        if bad is not None:
            return bad
        assert row is not None
        self.hours.add(kind, row)
        return Response(201, b"", {"content-length": "0"})

    def hours_item(self, kind: Kind, method: str, ident: int, req: Request) -> Response:
        current = self.hours.get(kind, ident)
        if current is None:
            return error_response(404, "NotFound", f"Service hours {ident} were not found.")
        if method == "GET":
            return json_response(200, current)
        body, bad = _json_body(req)
        if bad is not None:
            return bad
        if method == "PATCH":
            try:
                candidate: Any = apply_patch(current, body)
            except PatchError as exc:
                return error_response(400, "BadRequest", f"Invalid patch document: {exc}.")
        else:
            candidate = body
        row, bad = self._validate_hours(candidate)
        if bad is not None:
            return bad
        assert row is not None
        row["serviceHoursId"] = ident
        return json_response(200, {**self.hours.replace(kind, row), "yearId": self._year_of(row)})

    def _year_of(self, row: Record) -> int | None:
        """The school year a service-hours date falls in (FACTS adds ``yearId`` to its answer)."""
        day = sieve.parse_date(str(row.get("date") or ""))
        if day is None:
            return None
        for year in self.school.schoolYears:
            first = sieve.parse_date(str(year.get("firstDay") or ""))
            last = sieve.parse_date(str(year.get("lastDay") or ""))
            if first is not None and last is not None and first <= day <= last:
                return as_id(year.get("yearId"))
        return None

    def _validate_hours(self, body: Any) -> tuple[Record | None, Response | None]:
        """FACTS's checks: an object, personId of a real person, numeric hours, texts <= 255."""

        def bad(status: int, message: str, target: str) -> tuple[None, Response]:
            code = "BadRequest" if status == 400 else "ValidationFailed"
            return None, error_response(status, code, message, target)

        if not isinstance(body, dict):
            return bad(400, "The body must be a service hours object.", "body")
        person_id = body.get("personId")
        if person_id is not None and (
            isinstance(person_id, bool) or not isinstance(person_id, int)
        ):
            return bad(400, "personId must be an integer.", "personId")
        hours = body.get("hours")
        if (
            isinstance(hours, bool)
            or not isinstance(hours, int | float)
            or not math.isfinite(hours)
        ):
            return bad(400, "hours must be a number.", "hours")
        texts: dict[str, str | None] = {}
        for name in ("description", "note", "verifiedBy"):
            value = body.get(name)
            if value is not None and not isinstance(value, str):
                return bad(400, f"{name} must be a string.", name)
            if name != "verifiedBy" and value is not None and len(value) > MAX_TEXT:
                return bad(
                    400, f"{name} must be at most {MAX_TEXT} characters ({len(value)} given).", name
                )
            texts[name] = value
        created_by = body.get("createdBy")
        if created_by is not None and (
            isinstance(created_by, bool) or not isinstance(created_by, int)
        ):
            return bad(400, "createdBy must be an integer.", "createdBy")
        date_value = body.get("date")
        date_text: str | None = None
        if date_value is not None:
            parsed = sieve.parse_date(date_value) if isinstance(date_value, str) else None
            if parsed is None:
                return bad(400, f"date {date_value!r} is not a valid date.", "date")
            date_text = parsed.strftime("%Y-%m-%dT00:00:00Z")
        if person_id is None:
            return bad(422, "personId is required.", "personId")
        if person_id not in self.people_by_id:
            return bad(422, f"Person {person_id} does not exist.", "personId")
        row: Record = {
            "serviceHoursId": 0,
            "personId": person_id,
            "description": texts["description"],
            "hours": float(hours),
            "date": date_text,
            "note": texts["note"],
            "verifiedBy": texts["verifiedBy"],
            "createdBy": created_by,
        }
        return row, None


def _index(rows: list[Record], key: str) -> dict[int, Record]:
    """Rows by their integer key; a row whose key is not a number (a school file may hold such
    rows, as FACTS does) is still served in lists, only not by id. The first row of a key wins."""
    out: dict[int, Record] = {}
    for row in rows:
        ident = as_id(row.get(key)) if isinstance(row, dict) else None
        if ident is not None:
            out.setdefault(ident, row)
    return out


def _json_body(req: Request) -> tuple[Any, Response | None]:
    try:
        return json.loads(req.body.decode("utf-8") or "null"), None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, error_response(400, "BadRequest", f"The body is not valid JSON: {exc}.")


_STREETS = ("Oak St", "Maple Ave", "Cedar Ln", "Elm St", "Church Rd", "Park Blvd", "Mill Rd")
_CITIES = (("Springfield", "IL", "62704"), ("Fairview", "TX", "75069"), ("Riverton", "UT", "84065"))


def _address(address_id: int) -> Record:
    """A stable AddressVM for an addressID (the school file keeps no address table)."""
    city, state, zip_code = _CITIES[address_id % len(_CITIES)]
    return {
        "addressID": address_id,
        "address1": f"{100 + address_id % 8900} {_STREETS[address_id % len(_STREETS)]}",
        "address2": "",
        "city": city,
        "state": state,
        "zip": zip_code,
        "country": "USA",
    }


__all__ = ["Api", "SPECS", "dumps"]
