"""Fetch a Roster snapshot from FACTS with the fewest requests, one page at a time.

The first page of each whole table is requested at once, alongside the students; it tells how
big the table is, and the rest of the table is read only when that is cheaper than
``id==1|2|3`` batches of the ids actually needed (otherwise the batches are read and the probe
page is the only waste). Big tables are read in bigger pages, so a live tenant's history costs a
few large requests instead of a minute's rate budget. Whatever is read is checked against the
``rowCount`` FACTS announced, so a short answer fails loudly instead of archiving people.

Each page is turned into slim records (``core.facts.records``) as it arrives: rows the roster does
not need are dropped before they are validated, and a row that cannot be read is listed as
unreadable instead of failing the fetch. :func:`roster_from_tables` does the same without HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import Counter
from collections.abc import Callable, Collection, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal, TypeVar

from core.facts import records as rec
from core.facts import sieve
from core.facts.client import (
    MAX_PAGE_SIZE,
    ClientEvent,
    FactsClient,
    RequestDone,
    gather_all,
    page_number,
)
from core.facts.errors import IncompleteData
from core.facts.records import Resource, Unreadable, as_id, read_rows
from core.roster import Roster

T = TypeVar("T")
R = TypeVar("R")
RosterKind = Literal["students", "parents"]
Envelope = dict[str, Any]
Row = Any

PAGES_PER_TABLE = 4
"""A whole table is read in at most this many pages (each at least MAX_PAGE_SIZE rows)..."""
MAX_ROWS_PER_PAGE = 50_000
"""...unless that makes pages bigger than this and the plan's minute budget allows more pages."""
PAGES_IN_FLIGHT = 4
"""Pages requested at once: each waits whole in memory until it is read, so this bounds the
fetch's memory (the plan's 10/s rate is reached with a few requests in flight anyway)..."""
BIG_PAGES_IN_FLIGHT = 2
"""...and of pages larger than MAX_PAGE_SIZE rows (up to 25 MB each), this many: reading one
takes about as long as receiving the next, so more of them would only wait in memory."""


@dataclass(frozen=True)
class FetchProgress:
    """Where a fetch is: the step last started or finished, and the client's counters so far."""

    step: str
    requests: int
    records: int
    rate_limit_waits: int


ProgressCallback = Callable[[FetchProgress], None]


@dataclass(frozen=True)
class _Table:
    """A FACTS list, the column used to batch it by id (its Sieve filter name), its records."""

    label: str
    path: str
    id_field: str
    resource: Resource[Any]


STUDENTS = _Table("students", "/Students", "studentId", rec.STUDENTS)
PARENT_LINKS = _Table("parent links", "/People/ParentStudent", "studentID", rec.PARENT_LINKS)
MEMBERSHIPS = _Table("family memberships", "/People/PersonFamily", "personId", rec.MEMBERSHIPS)
FAMILIES = _Table("families", "/Families", "familyID", rec.FAMILIES)
PEOPLE = _Table("people", "/People", "personId", rec.PEOPLE)
SCHOOL_YEARS = _Table("school years", "/SchoolYears", "yearId", rec.SCHOOL_YEARS)
SCHOOLS = _Table("schools", "/SchoolConfigurations", "configSchoolID", rec.SCHOOLS)
STUDENT_PARAMS = {"includes": "demographics"}


def page_size_for(row_count: int, per_minute: int) -> int:
    """Rows per page for reading a whole table of ``row_count`` rows under a per-minute budget."""
    if row_count <= MAX_PAGE_SIZE * PAGES_PER_TABLE:
        return MAX_PAGE_SIZE
    budget = max(1, per_minute // 8)  # one table may take an eighth of the minute's requests
    target = min(PAGES_PER_TABLE, budget)
    size = math.ceil(row_count / target)
    if size > MAX_ROWS_PER_PAGE and budget > target:
        size = max(MAX_ROWS_PER_PAGE, math.ceil(row_count / budget))
    return max(MAX_PAGE_SIZE, size)


@dataclass
class _Reader:
    """Turns raw rows into records and keeps what could not be read (shared by fetch and tests)."""

    unreadable: list[Unreadable] = field(default_factory=list)
    rows_read: Counter[str] = field(default_factory=Counter)
    rows_received: Counter[str] = field(default_factory=Counter)

    def take(
        self,
        table: _Table,
        rows: Sequence[Row],
        page: int | None = None,
        wanted: Collection[int] | None = None,
    ) -> list[Any]:
        """Records of ``rows`` whose id is ``wanted`` (all when None); rows with an unreadable
        id are kept for validation, so they are reported rather than silently dropped."""
        self.rows_received[table.resource.name] += len(rows)
        positions: list[int] | None = None
        if wanted is not None:
            positions = [
                i for i, r in enumerate(rows)
                if r is not rec.DROPPED and _needed(r, table.id_field, wanted)
            ]
            rows = [rows[i] for i in positions]
        records, bad = read_rows(table.resource, rows, page, positions)
        self.rows_read[table.resource.name] += len(rows)
        self.unreadable.extend(bad)
        return records

    def students(
        self, rows: Sequence[Row], page: int | None = None
    ) -> tuple[list[rec.Student], dict[int, rec.Person]]:
        """Students, and the people their demographics carried (an unreadable one is read again
        from /People, where it is reported if it is unreadable there too)."""
        rows_ = self.take(STUDENTS, rows, page)
        students = [rec.Student(r.studentId, r.schoolCode, r.school) for r in rows_]
        embedded = [
            d["person"]
            for r in rows_
            if isinstance(d := r.demographics, dict) and isinstance(d.get("person"), dict)
        ]
        persons, _ = read_rows(rec.PEOPLE, embedded)
        ids = {s.studentId for s in students}
        return students, {p.personId: p for p in persons if p.personId in ids}


@dataclass(frozen=True)
class _Started:
    """A table whose first page is read: its announced rows and pages, and the records so far."""

    announced: int
    page_count: int
    received: int
    records: list[Any]


class _Probe:
    """Page 1 of a whole table, requested before the ids are known; handed over once, so it is
    not held (with its 6,000 rows) while the rest of the fetch runs."""

    def __init__(self, task: asyncio.Task[Envelope]) -> None:
        self._task: asyncio.Task[Envelope] | None = task

    async def take(self) -> Envelope:
        task, self._task = self._task, None
        assert task is not None, "a probe page is taken once"
        return await task


def _needed(row: Row, id_field: str, wanted: Collection[int]) -> bool:
    if not isinstance(row, dict):
        return True
    value = as_id(row.get(id_field))
    return value is None or value in wanted


class _Fetch:
    """One fetch_roster run: the client, its tasks, progress reporting and the read strategy."""

    def __init__(self, client: FactsClient, on_progress: ProgressCallback | None) -> None:
        self.client = client
        self.on_progress = on_progress
        self.step = "starting"
        self.tasks: set[asyncio.Task[Any]] = set()
        self.reader = _Reader()
        self.in_flight = asyncio.Semaphore(PAGES_IN_FLIGHT)
        self.big_in_flight = asyncio.Semaphore(BIG_PAGES_IN_FLIGHT)
        self.student_people: dict[int, rec.Person] = {}
        self.announced: dict[str, int] = {}
        start = client.stats
        self._base = (start.requests, start.records, start.rate_limit_waits)

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)  # a done task's result is its caller's
        return task

    async def cancel_all(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def report(self, step: str | None = None) -> None:
        if step is not None:
            self.step = step
        if self.on_progress is None:
            return
        s = self.client.stats
        self.on_progress(
            FetchProgress(
                self.step,
                s.requests - self._base[0],
                s.records - self._base[1],
                s.rate_limit_waits - self._base[2],
            )
        )

    @property
    def requests(self) -> int:
        return self.client.stats.requests - self._base[0]

    def first_page(self, table: _Table) -> _Probe:
        """Start reading page 1 of the whole table (it doubles as the size probe)."""
        return _Probe(self.spawn(self._page(table, None, 1, MAX_PAGE_SIZE)))

    async def rows_for_ids(
        self, table: _Table, ids: Collection[int], first: _Probe | None
    ) -> list[Any]:
        """Records whose ``table.id_field`` is in ``ids``: the whole table, or id batches.

        Without a probe page (``first`` None) the batches are read directly.
        """
        probe = await first.take() if first is not None else None
        if not ids:
            return []
        wanted = set(ids)
        batches = math.ceil(len(ids) / sieve.MAX_IDS_PER_FILTER)
        if probe is not None:
            row_count = page_number(probe.get("rowCount")) or 0
            size = page_size_for(row_count, self.client.limits.per_minute)
            pages = math.ceil(row_count / size)
            cost = pages - 1 if size == MAX_PAGE_SIZE else pages
            if cost <= batches:
                if size != MAX_PAGE_SIZE:  # bigger pages: page 1 again, at that size
                    del probe
                    probe = await self._page(table, None, 1, size, wanted=wanted)
                started = self._start(table, probe, wanted)
                del probe
                out = await self._rest(table, started, size, wanted)
                self.report(table.label)
                return out
        del probe
        terms = sieve.id_filters(table.id_field, sorted(ids))
        chunks = await gather_all(self._read(table, term) for term in terms)
        self.report(table.label)
        return [r for chunk in chunks for r in chunk]

    async def read_all(self, table: _Table, params: dict[str, str] | None = None) -> list[Any]:
        """Every row of a list FACTS serves whole (students, school years, schools)."""
        first = await self._page(table, None, 1, MAX_PAGE_SIZE, params)
        row_count = page_number(first.get("rowCount")) or 0
        size = page_size_for(row_count, self.client.limits.per_minute)
        if size != MAX_PAGE_SIZE:
            del first
            first = await self._page(table, None, 1, size, params)
        started = self._start(table, first, None)
        del first
        return await self._rest(table, started, size, None, params)

    async def _read(self, table: _Table, term: str | None) -> list[Any]:
        started = self._start(table, await self._page(table, term, 1, MAX_PAGE_SIZE), None)
        return await self._rest(table, started, MAX_PAGE_SIZE, None, term=term)

    def _start(self, table: _Table, first: Envelope, wanted: Collection[int] | None) -> _Started:
        """Page 1 read into records, with what it announced of the rest. Callers drop their page
        at once: a live tenant's page is 50,000 rows, and several tables are read at a time."""
        return _Started(
            announced=page_number(first.get("rowCount")) or 0,
            page_count=page_number(first.get("pageCount")) or 0,
            received=len(first["results"]),
            records=self._take(table, first, 1, wanted),
        )

    async def _rest(
        self,
        table: _Table,
        started: _Started,
        size: int,
        wanted: Collection[int] | None,
        params: dict[str, str] | None = None,
        term: str | None = None,
    ) -> list[Any]:
        """The remaining pages, each read into records as it arrives; the rows received are
        checked against the announced rowCount."""
        out, received = started.records, started.received
        if received and started.page_count > 1:

            async def page(n: int) -> tuple[int, list[Any]]:
                body = await self._page(table, term, n, size, params, wanted)
                return len(body["results"]), self._take(table, body, n, wanted)

            pages = range(2, started.page_count + 1)
            for count, rows in await gather_all(page(n) for n in pages):
                received += count
                out.extend(rows)
        _check_complete(table.label, received, started.announced)
        if term is None and wanted is None:
            self.announced[table.label] = started.announced
        return out

    def _take(
        self, table: _Table, body: Envelope, page: int, wanted: Collection[int] | None
    ) -> list[Any]:
        if table is STUDENTS:
            students, people = self.reader.students(body["results"], page)
            self.student_people.update(people)
            return students
        return self.reader.take(table, body["results"], page, wanted)

    async def _page(
        self,
        table: _Table,
        term: str | None,
        page: int,
        size: int,
        params: dict[str, str] | None = None,
        wanted: Collection[int] | None = None,
    ) -> Envelope:
        """One page, parsed; rows whose id is not ``wanted`` are dropped as they are parsed."""
        parse = table.resource.page.validate_json
        if wanted is not None:
            parse = partial(parse, context=rec.Wanted(table.id_field, wanted))
        big = self.big_in_flight if size > MAX_PAGE_SIZE else contextlib.nullcontext()
        async with big, self.in_flight:
            return await self.client.get_page(
                table.path,
                filters=term,
                page=page,
                page_size=size,
                params=params,
                parse=parse,
            )


def _check_complete(what: str, got: int, announced: int) -> None:
    if got < announced:
        raise IncompleteData(
            f"FACTS announced {announced} {what} but sent {got}: the read was cut short. "
            "Nothing was changed; try the sync again."
        )


async def fetch_roster(
    client: FactsClient, kind: RosterKind, on_progress: ProgressCallback | None = None
) -> Roster:
    """All students (every status), their people and family rows; for parents sites, their links
    and the linked parents' people too. Raises IncompleteData on a short read."""
    if kind not in ("students", "parents"):
        raise ValueError(f"kind must be 'students' or 'parents', not {kind!r}")
    run = _Fetch(client, on_progress)
    previous = client.on_event

    def relay(event: ClientEvent) -> None:
        if previous is not None:
            previous(event)
        if isinstance(event, RequestDone):
            run.report()

    client.on_event = relay
    try:
        roster = await _fetch(run, kind)
    except BaseException:
        await run.cancel_all()
        raise
    finally:
        client.on_event = previous
    run.report("done")
    return roster


async def _fetch(run: _Fetch, kind: RosterKind) -> Roster:
    parents = kind == "parents"
    run.report("starting")
    # Everything that needs no ids starts at once; the client's limiter paces it.
    schools_t = run.spawn(run.read_all(SCHOOLS))
    years_t = run.spawn(run.read_all(SCHOOL_YEARS))
    students_t = run.spawn(run.read_all(STUDENTS, STUDENT_PARAMS))
    links_first = run.first_page(PARENT_LINKS) if parents else None
    members_first = run.first_page(MEMBERSHIPS)
    families_first = run.first_page(FAMILIES)
    people_first = run.first_page(PEOPLE) if parents else None

    students: list[rec.Student] = await students_t
    unreadable_students = sum(1 for u in run.reader.unreadable if u.resource == "Student")
    announced = run.announced.get(STUDENTS.label, 0) - unreadable_students
    run.report("students")
    people = dict(run.student_people)
    student_ids = {s.studentId for s in students}

    links: list[rec.ParentLink] = []
    if links_first is not None:
        links = await run.rows_for_ids(PARENT_LINKS, student_ids, links_first)
        links = [ln for ln in links if ln.studentID in student_ids]
    parent_ids = {link.parentID for link in links}

    # The parents, and any student whose demographics came without a person.
    missing = {pid for pid in student_ids | parent_ids if pid not in people}
    people_t = run.spawn(run.rows_for_ids(PEOPLE, missing, people_first))
    members = await run.rows_for_ids(MEMBERSHIPS, student_ids | parent_ids, members_first)
    family_rows = await run.rows_for_ids(
        FAMILIES, {m.familyId for m in members}, families_first
    )
    for person in await people_t:
        people.setdefault(person.personId, person)
    return _assemble(
        run.reader,
        kind,
        students=students,
        people=people,
        links=links,
        members=members,
        families=family_rows,
        years=await years_t,
        schools=await schools_t,
        announced=announced,
        requests=run.requests,
    )


def _assemble(
    reader: _Reader,
    kind: str,
    *,
    students: list[rec.Student],
    people: dict[int, rec.Person],
    links: list[rec.ParentLink],
    members: list[rec.Membership],
    families: Iterable[rec.Family],
    years: list[rec.SchoolYear],
    schools: list[rec.School],
    announced: int,
    requests: int = 0,
) -> Roster:
    """The Roster from its records: links to nobody become unreadable, doubled families merge."""
    known = set(people) | {s.studentId for s in students}
    links, orphans = rec.orphan_links(links, known)
    reader.unreadable.extend(orphans)
    by_id: dict[int, rec.Family] = {}
    for fam in families:
        by_id.setdefault(fam.familyID, fam)  # FACTS may list a family twice
    return Roster(
        students=students,
        people=people,
        parent_links=links,
        person_families=members,
        families=by_id,
        school_years=years,
        schools=schools,
        announced_students=announced,
        kind=kind,
        requests=requests,
        fetched_at=datetime.now(UTC),
        unreadable=list(reader.unreadable),
        rows_read=dict(reader.rows_read),
        rows_received=dict(reader.rows_received),
    )


def roster_from_tables(tables: dict[str, list[Any]], kind: str = "parents") -> Roster:
    """The Roster a fetch of these FACTS-shaped tables (``School.to_json()``) gives, without HTTP.

    The same reading rules as :func:`fetch_roster`: every student, the links of those students,
    the people and memberships of students and parents, their families.
    """
    reader = _Reader()
    students, people = reader.students(tables.get("students", []), 1)
    student_ids = {s.studentId for s in students}
    links: list[rec.ParentLink] = []
    if kind == "parents":
        links = reader.take(PARENT_LINKS, tables.get("parentStudent", []), 1, student_ids)
        links = [ln for ln in links if ln.studentID in student_ids]
    parent_ids = {ln.parentID for ln in links}
    missing = {pid for pid in student_ids | parent_ids if pid not in people}
    for person in reader.take(PEOPLE, tables.get("people", []), 1, missing):
        people.setdefault(person.personId, person)
    members = reader.take(MEMBERSHIPS, tables.get("personFamily", []), 1, student_ids | parent_ids)
    families = reader.take(FAMILIES, tables.get("families", []), 1, {m.familyId for m in members})
    return _assemble(
        reader,
        kind,
        students=students,
        people=people,
        links=links,
        members=members,
        families=families,
        years=reader.take(SCHOOL_YEARS, tables.get("schoolYears", []), 1),
        schools=reader.take(SCHOOLS, tables.get("schoolConfigurations", []), 1),
        announced=len(tables.get("students", []))
        - sum(1 for u in reader.unreadable if u.resource == "Student"),
    )
