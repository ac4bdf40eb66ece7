"""``hours pull``: the FACTS ServiceHours of every linked person become the site's entries.

Each FACTS row not already the site's becomes an approved entry tied to that row (its outbox row
is ``sent`` with the row's id), so it is never sent again and a second pull adds nothing. Rows
that are already the site's are recognised first, exactly as the worker would before a first
write: a row carrying a queued entry's reference, or entered by hand with a queued entry's date,
hours and description, is tied to that entry instead of becoming a second one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

import httpx

from core.sync.text import clean_text
from core.writeback.outbox import reference_for, write_transaction
from core.writeback.reconcile import norm_text, reconcile, row_date
from core.writeback.rules import MAX_TEXT, reference_of
from core.writeback.witness import (
    entry_candidates,
    held_ids,
    linked_people,
    open_site_client,
    read_rows,
    site_kind,
)
from store import Store
from store.models import Account, HourEntry, Outbox, Site, utcnow

MAX_HOURS = 24.0
PULLED_BY = "FACTS"


@dataclass(frozen=True)
class Skipped:
    service_hours_id: int
    person_id: int | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "serviceHoursId": self.service_hours_id,
            "personId": self.person_id,
            "reason": self.reason,
        }


@dataclass
class PullResult:
    dry_run: bool
    rows_read: int = 0
    imported: list[int] = field(default_factory=list)
    """New entries (ids; in a dry run, the FACTS row ids that would be imported)."""
    tied: int = 0
    """FACTS rows recognised as entries the site had queued: adopted, not sent."""
    already: int = 0
    """FACTS rows that were the site's entries already."""
    skipped: list[Skipped] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "dryRun": self.dry_run,
            "rowsRead": self.rows_read,
            "imported": len(self.imported),
            "entryIds": [] if self.dry_run else self.imported,
            "tied": self.tied,
            "already": self.already,
            "skipped": [s.to_json() for s in self.skipped],
        }


def _why_not(row: Any, since: date | None) -> str | None:
    day = row_date(row)
    if day is None:
        return "has no date"
    if since is not None and day < since:
        return ""  # before --since: left out quietly
    if row.hours is None or float(row.hours) <= 0:
        return "counts no hours"
    if float(row.hours) > MAX_HOURS:
        return f"counts {row.hours:g} hours, more than {MAX_HOURS:g} for one entry"
    return None


async def pull(
    store: Store,
    site: Site,
    *,
    since: date | None = None,
    dry_run: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
) -> PullResult:
    """Import the FACTS ServiceHours rows of the site's linked people (see the module doc)."""
    site = Site.get_by_id(site.id)
    kind = site_kind(site)
    result = PullResult(dry_run=dry_run)
    people = linked_people(site)
    async with open_site_client(store, site, transport) as client:
        rows = await read_rows(client, kind, people)
    result.rows_read = len(rows)
    accounts = {
        int(cast(int, a.person_id)): a
        for a in Account.select().where((Account.site == site.id) & Account.person_id.is_null(False))
    }
    entries = list(
        HourEntry.select(HourEntry, Account).join(Account).where(
            (Account.site == site.id) & (HourEntry.deleted == False)  # noqa: E712
        )
    )
    by_id = {e.id: e for e in entries}
    with write_transaction():
        held = held_ids(kind, rows)
        queued = {
            int(cast(Any, o).entry_id): o
            for o in Outbox.select().join(HourEntry).join(Account).where(
                (Account.site == site.id)
                & Outbox.service_hours_id.is_null()
                & Outbox.claimed_by.is_null()
                & (Outbox.state != "sent")
            )
        }
        candidates, _ = entry_candidates(site, (by_id[i] for i in queued if i in by_id))
        found = reconcile([c.seek() for c in candidates], rows, held.keys())
        tied_ids: set[int] = set()
        for c in candidates:
            hit = found.get(c.key)
            if hit is None:
                continue
            tied_ids.add(hit.service_hours_id)
            if hit.how == "reference" and not _same(hit.row, c.hours, c.day):
                result.skipped.append(Skipped(hit.service_hours_id, hit.row.personId,
                                              f"carries entry {c.entry_id}'s reference with other "
                                              "hours: write-back settles it"))
                continue
            result.tied += 1
            if not dry_run:
                _tie(queued[int(cast(int, c.entry_id))], hit.row)
        identical = {
            (e.account.person_id, e.date, round(float(e.hours), 2), norm_text(e.description)): e
            for e in entries
        }
        for row in rows:
            sid = int(row.serviceHoursId)
            if sid in held or sid in tied_ids:
                result.already += sid in held
                continue
            ref = reference_of(row.note)
            if ref is not None and ref.startswith(f"factsync:{site.id}:"):
                entry_id = ref.rsplit(":", 1)[-1]
                if entry_id.isdigit() and int(entry_id) in by_id:
                    result.skipped.append(Skipped(sid, row.personId, f"written by factsync for "
                                                  f"entry {entry_id}: write-back settles it"))
                    continue
            why = _why_not(row, since)
            if why is not None:
                if why:
                    result.skipped.append(Skipped(sid, row.personId, why))
                continue
            account = accounts.get(int(row.personId or 0))
            if account is None:
                result.skipped.append(Skipped(sid, row.personId, "no linked account"))
                continue
            twin = identical.get((account.person_id, day_of(row), round(float(row.hours or 0), 2),
                                  norm_text(row.description)))
            if twin is not None:
                result.skipped.append(Skipped(sid, row.personId, f"matches entry {twin.id} "
                                              f"({twin.status}) of {account.email}"))
                continue
            if dry_run:
                result.imported.append(sid)
                continue
            result.imported.append(_import(site, kind, account, row))
    return result


def day_of(row: Any) -> date:
    day = row_date(row)
    assert day is not None  # rows without a date were skipped
    return day


def _same(row: Any, hours: float, day: date) -> bool:
    return row.hours is not None and abs(float(row.hours) - hours) < 1e-6 and row_date(row) == day


def _tie(outbox: Outbox, row: Any) -> None:
    Outbox.update(
        state="sent",
        service_hours_id=int(row.serviceHoursId),
        person_id=row.personId,
        outcome_unknown=False,
        sent_hours=float(row.hours or 0),
        sent_date=row_date(row),
        sent_at=utcnow(),
        last_error=None,
    ).where((Outbox.id == outbox.id) & Outbox.claimed_by.is_null()).execute()


def _import(site: Site, kind: str, account: Account, row: Any) -> int:
    now = utcnow()
    day = row_date(row)
    entry: HourEntry = HourEntry.create(
        account=account.id,
        date=day,
        hours=round(float(row.hours), 2),
        description=clean_text(" ".join((row.description or "").split()), max_len=MAX_TEXT),
        verifier=clean_text(row.verifiedBy or "", max_len=100) or None,
        status="approved",
        approved_by=PULLED_BY,
        approved_at=now,
        created_at=now,
        updated_at=now,
    )
    Outbox.create(
        entry=entry.id,
        resource=kind,
        operation="create",
        state="sent",
        reference=reference_for(site.id, entry.id),
        service_hours_id=int(row.serviceHoursId),
        person_id=row.personId,
        sent_hours=float(row.hours),
        sent_date=day,
        sent_at=now,
        next_try_at=now,
    )
    return int(entry.id)
