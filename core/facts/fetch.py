"""Fetch a Roster snapshot from FACTS with the fewest requests.

Every table is read with 6,000-row pages. The first page of each whole table is requested at once,
alongside the students; it tells how many pages the whole table would take, and the rest of the
table is read only when that is cheaper than ``id==1|2|3`` batches of the ids actually needed
(otherwise the batches are read and the probe page is the only waste). Whatever is read is checked
against the ``rowCount`` FACTS announced, so a short answer fails loudly instead of archiving people.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Collection, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel

from core.facts import sieve
from core.facts.client import MAX_PAGE_SIZE, ClientEvent, FactsClient, RequestDone, gather_all
from core.facts.errors import IncompleteData
from core.facts.models import (
    FamilyConfigVmOutV1_1,
    ParentStudentVM_V1_1,
    PersonFamilyVM,
    PersonVM,
    SchoolConfigVmOut,
    SchoolYearModel,
    StudentModelV1_3,
)
from core.roster import Roster

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
RosterKind = Literal["students", "parents"]
Envelope = dict[str, Any]


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
    """A FACTS list and the column used to batch it by id (its Sieve filter name)."""

    label: str
    path: str
    id_field: str


PARENT_LINKS = _Table("parent links", "/People/ParentStudent", "studentID")
MEMBERSHIPS = _Table("family memberships", "/People/PersonFamily", "personId")
FAMILIES = _Table("families", "/Families", "familyID")
PEOPLE = _Table("people", "/People", "personId")


class _Fetch:
    """One fetch_roster run: the client, its tasks, progress reporting and the read strategy."""

    def __init__(self, client: FactsClient, on_progress: ProgressCallback | None) -> None:
        self.client = client
        self.on_progress = on_progress
        self.step = "starting"
        self.tasks: list[asyncio.Task[Any]] = []
        start = client.stats
        self._base = (start.requests, start.records, start.rate_limit_waits)

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.ensure_future(coro)
        self.tasks.append(task)
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

    def first_page(self, table: _Table) -> asyncio.Task[list[Envelope]]:
        """Start reading page 1 of the whole table (it doubles as the size probe)."""
        return self.spawn(self._pages(table, None, 1, 1))

    async def rows_for_ids(
        self,
        table: _Table,
        model: type[M],
        ids: Collection[int],
        first: Awaitable[list[Envelope]] | None,
    ) -> list[M]:
        """Rows whose ``table.id_field`` is in ``ids``: rest of the whole table, or id batches.

        Without a probe page (``first`` None) the batches are read directly.
        """
        probe = (await first)[0] if first is not None else None
        if not ids:
            return []
        batches = math.ceil(len(ids) / sieve.MAX_IDS_PER_FILTER)
        if probe is not None and int(probe.get("pageCount") or 0) - 1 <= batches:
            rows = await self._complete(table, None, probe)
            wanted = set(ids)
            rows = [r for r in rows if _int(r.get(table.id_field)) in wanted]
        else:
            terms = sieve.id_filters(table.id_field, sorted(ids))
            chunks = await gather_all(self._read(table, term) for term in terms)
            rows = [r for chunk in chunks for r in chunk]
        self.report(table.label)
        return [model.model_validate(r) for r in rows]

    async def _read(self, table: _Table, term: str | None) -> list[dict[str, Any]]:
        first = (await self._pages(table, term, 1, 1))[0]
        return await self._complete(table, term, first)

    async def _complete(
        self, table: _Table, term: str | None, first: Envelope
    ) -> list[dict[str, Any]]:
        """Page 1 plus the remaining pages, checked against the announced rowCount."""
        page_count = int(first.get("pageCount") or 0)
        bodies = [first]
        if first["results"] and page_count > 1:
            bodies += await self._pages(table, term, 2, page_count)
        rows = [r for b in bodies for r in b["results"]]
        _check_complete(table.label, len(rows), int(first.get("rowCount") or 0))
        return rows

    async def _pages(
        self, table: _Table, term: str | None, first: int, last: int
    ) -> list[Envelope]:
        return await gather_all(
            self.client.get_page(table.path, filters=term, page=n, page_size=MAX_PAGE_SIZE)
            for n in range(first, last + 1)
        )


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


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
    client = run.client
    parents = kind == "parents"
    run.report("starting")
    # Everything that needs no ids starts at once; the client's limiter paces it.
    schools_t = run.spawn(client.get_all("/SchoolConfigurations", SchoolConfigVmOut))
    years_t = run.spawn(client.get_all("/SchoolYears", SchoolYearModel))
    students_t = run.spawn(
        client.get_all("/Students", StudentModelV1_3, params={"includes": "demographics"})
    )
    links_first = run.first_page(PARENT_LINKS) if parents else None
    members_first = run.first_page(MEMBERSHIPS)
    families_first = run.first_page(FAMILIES)
    people_first = run.first_page(PEOPLE) if parents else None

    students_result = await students_t
    students = students_result.items
    _check_complete("students", len(students), students_result.row_count)
    run.report("students")
    people: dict[int, PersonVM] = {}
    for s in students:
        person = s.demographics.person if s.demographics else None
        if person is not None and person.personId == s.studentId:
            people[s.studentId] = person
    student_ids = list(dict.fromkeys(s.studentId for s in students))

    links: list[ParentStudentVM_V1_1] = []
    if links_first is not None:
        links = await run.rows_for_ids(
            PARENT_LINKS, ParentStudentVM_V1_1, set(student_ids), links_first
        )
    parent_ids = list(dict.fromkeys(link.parentID for link in links))

    # The parents, and any student whose demographics came without a person.
    missing = {pid for pid in (*student_ids, *parent_ids) if pid not in people}
    people_t = run.spawn(run.rows_for_ids(PEOPLE, PersonVM, missing, people_first))
    members = await run.rows_for_ids(
        MEMBERSHIPS, PersonFamilyVM, set(student_ids) | set(parent_ids), members_first
    )
    family_rows = await run.rows_for_ids(
        FAMILIES, FamilyConfigVmOutV1_1, {m.familyId for m in members}, families_first
    )
    families: dict[int, FamilyConfigVmOutV1_1] = {}
    for fam in family_rows:
        families.setdefault(fam.familyID, fam)  # FACTS may list a family twice
    for person in await people_t:
        people.setdefault(person.personId, person)
    schools = (await schools_t).items
    years = (await years_t).items
    return Roster(
        students=students,
        people=people,
        parent_links=links,
        person_families=members,
        families=families,
        school_years=years,
        schools=schools,
        announced_students=students_result.row_count,
        kind=kind,
        requests=run.requests,
        fetched_at=datetime.now(UTC),
    )
