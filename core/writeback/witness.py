"""Reading what FACTS holds for a site, and what sending a set of entries would do there.

Shared by the hour-syncing preview, ``hours import/backfill --dry-run``, ``hours pull`` and the
audit: each reads the FACTS ServiceHours rows of the people concerned (150 a request,
``x-bypass-cache``) and asks :mod:`core.writeback.reconcile` the same questions the worker asks
before a first write, so a preview never promises what the worker would not do.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, cast

import httpx

from core.facts.client import FactsClient
from core.facts.models import StudentServiceHoursModel as Row
from core.sites import SiteError
from core.writeback.outbox import ROSTER_KINDS, reference_for
from core.writeback.reconcile import Classified, Seek, classify, relevant
from store import Store
from store.models import Account, HourEntry, Outbox, Site

Kind = Literal["students", "parents"]


def site_kind(site: Site) -> Kind:
    if site.kind not in ROSTER_KINDS:
        raise SiteError(
            f"site {site.name!r} has no roster kind yet: run a first sync before reading its "
            "hours in FACTS"
        )
    return cast(Kind, site.kind)


def open_site_client(
    store: Store, site: Site, transport: httpx.AsyncBaseTransport | None = None
) -> FactsClient:
    from core.connection import open_client

    return open_client(store, site, transport=transport)


async def read_rows(client: FactsClient, kind: Kind, people: Iterable[int]) -> list[Row]:
    """Every FACTS ServiceHours row of these people, fresh (never the 120 s cache)."""
    ids = sorted({int(p) for p in people})
    if not ids:
        return []
    return await client.list_service_hours(kind, ids, bypass_cache=True)


def held_ids(kind: str, rows: Sequence[Row]) -> dict[int, int]:
    """FACTS row id -> the entry (of any site of this store) whose outbox row holds it."""
    ids = [int(r.serviceHoursId) for r in rows if r.serviceHoursId]
    out: dict[int, int] = {}
    for i in range(0, len(ids), 500):
        query = Outbox.select(Outbox.entry, Outbox.service_hours_id).where(
            (Outbox.resource == kind) & Outbox.service_hours_id.in_(ids[i : i + 500])
        ).tuples()
        out.update({int(sid): int(entry) for entry, sid in cast(Any, query)})
    return out


def linked_people(site: Site) -> list[int]:
    query = Account.select(Account.person_id).where(
        (Account.site == site.id) & Account.person_id.is_null(False)
    )
    return sorted({int(cast(int, a.person_id)) for a in query})


@dataclass(frozen=True)
class Candidate:
    """An entry (or a CSV line about to be one) that would be sent to FACTS."""

    key: Hashable
    entry_id: int | None
    email: str | None
    person_id: int
    day: date
    hours: float
    description: str
    reference: str | None

    def seek(self) -> Seek:
        return Seek(
            key=self.key,
            reference=self.reference,
            person_ids=frozenset({self.person_id}),
            day=self.day,
            hours=self.hours,
            description=self.description,
        )


@dataclass(frozen=True)
class Conflict:
    """FACTS holds an un-referenced row of the same person and date with other hours."""

    entry_id: int | None
    email: str | None
    person_id: int
    date: date
    hours: float
    facts_hours: float | None
    service_hours_id: int

    def to_json(self) -> dict[str, Any]:
        return {
            "entryId": self.entry_id,
            "email": self.email,
            "personId": self.person_id,
            "date": self.date.isoformat(),
            "hours": self.hours,
            "factsHours": self.facts_hours,
            "serviceHoursId": self.service_hours_id,
        }


@dataclass(frozen=True)
class Forecast:
    """What sending these candidates would do: how many are new to FACTS (POSTed), already in
    FACTS (adopted, never sent), or conflicting (same person and date, other hours)."""

    new: int
    in_facts: int
    conflicts: list[Conflict]
    not_sent: int = 0
    """Candidates that would not go to FACTS at all (not approved, or the account not linked)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "new": self.new,
            "inFacts": self.in_facts,
            "conflicting": len(self.conflicts),
            "notSent": self.not_sent,
            "conflicts": [c.to_json() for c in self.conflicts],
        }

    def sentence(self) -> str:
        return (
            f"{self.new} new to FACTS (would be sent), {self.in_facts} already in FACTS "
            f"(adopted, not sent again), {len(self.conflicts)} conflicting (FACTS holds other "
            "hours for the same person and date)"
        )


async def forecast(
    store: Store,
    site: Site,
    candidates: Sequence[Candidate],
    *,
    not_sent: int = 0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Forecast:
    """Classify ``candidates`` against what FACTS holds now (reads only; changes nothing)."""
    if not candidates:
        return Forecast(0, 0, [], not_sent)
    kind = site_kind(site)
    async with open_site_client(store, site, transport) as client:
        rows = await read_rows(client, kind, {c.person_id for c in candidates})
    seeks = [c.seek() for c in candidates]
    rows = relevant(seeks, rows)
    mine = {c.entry_id for c in candidates if c.entry_id is not None}
    taken = {sid for sid, entry in held_ids(kind, rows).items() if entry not in mine}
    result: Classified = classify(seeks, rows, taken)
    conflicts = [
        Conflict(
            entry_id=c.entry_id,
            email=c.email,
            person_id=c.person_id,
            date=c.day,
            hours=c.hours,
            facts_hours=result.conflicts[c.key].hours,
            service_hours_id=int(result.conflicts[c.key].serviceHoursId),
        )
        for c in candidates
        if result.verdicts.get(c.key) == "conflict"
    ]
    return Forecast(result.count("new"), result.count("in_facts"), conflicts, not_sent)


def entry_candidates(site: Site, entries: Iterable[HourEntry]) -> tuple[list[Candidate], int]:
    """Approved, live entries of linked accounts as candidates; and how many others there were."""
    out: list[Candidate] = []
    others = 0
    for e in entries:
        account: Account = e.account
        if e.status != "approved" or e.deleted or account.person_id is None:
            others += 1
            continue
        out.append(
            Candidate(
                key=e.id,
                entry_id=e.id,
                email=account.email,
                person_id=int(account.person_id),
                day=e.date,
                hours=round(float(e.hours), 2),
                description=e.description,
                reference=reference_for(site.id, e.id),
            )
        )
    return out, others
