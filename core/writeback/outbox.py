"""The transactional outbox: what FACTS is owed, written in the same transaction as the change.

One outbox row per hour entry. The row says what the worker must do next (``create``, ``update``
or ``withdraw``); the worker always sends the entry's *current* values, so a row never carries a
stale copy of the entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar, cast

from store.models import Account, HourEntry, Outbox, Site, database, utcnow

ROSTER_KINDS = ("students", "parents")
_CHUNK = 500

T = TypeVar("T")


def chunks(items: Sequence[T], size: int = _CHUNK) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def write_transaction() -> Any:
    """A transaction that takes SQLite's write lock at BEGIN, so read-then-write is never stale.

    Nested inside another transaction it is a savepoint of that one.
    """
    return database.atomic("IMMEDIATE")


def reference_for(site_id: int, entry_id: int) -> str:
    """The stable reference put at the start of FACTS's ``note``: the dedupe key of an entry."""
    return f"factsync:{site_id}:{entry_id}"


def enqueue_entry(site: Site, entry: HourEntry, account: Account) -> Outbox | None:
    """Owe FACTS the current state of ``entry`` (call inside the transaction that changed it).

    Returns the outbox row, or None when nothing is owed (the entry was never approved, or its
    account is not linked and nothing of it was ever queued). A row that was sent (or may have
    reached FACTS) is brought to the entry's state whatever became of the account since: an
    undone link or a merge does not stop a withdrawal reaching the row the entry was sent as.
    A row that was never confirmed stays queued even when no longer wanted: the worker looks
    it up in FACTS (a restored store may not know it was sent) and drops it only if absent.
    """
    row: Outbox | None = Outbox.get_or_none(Outbox.entry == entry.id)
    wanted = entry.status == "approved" and not entry.deleted
    now = utcnow()
    if row is None:
        if not wanted or site.kind not in ROSTER_KINDS or account.person_id is None:
            return None
        row = Outbox.create(
            entry=entry.id,
            resource=site.kind,
            operation="create",
            state="pending",
            reference=reference_for(site.id, entry.id),
            next_try_at=now,
        )
        return row
    if row.state == "sent" or row.service_hours_id is not None or row.operation != "create":
        # FACTS holds (or may hold) the row: bring it to the entry's state.
        row.operation = "update" if wanted else "withdraw"
    row.state = "pending" if row.state != "inflight" else "inflight"
    row.attempts = 0 if row.state == "pending" else row.attempts
    row.next_try_at = now
    row.last_error = None
    row.save()
    return row


def enqueue_for_accounts(site: Site, account_ids: Iterable[int]) -> int:
    """Enqueue approved entries of just-linked accounts that have no outbox row; return how many.

    Called by sync and merge inside their transaction when accounts become linked to FACTS.
    """
    ids = sorted({int(a) for a in account_ids})
    return _enqueue(site, lambda part: HourEntry.account.in_(list(part)), ids)


def enqueue_new(site: Site, entry_ids: Iterable[int]) -> int:
    """Enqueue these entries where they are approved, linked and have no outbox row (backfill)."""
    ids = sorted({int(e) for e in entry_ids})
    return _enqueue(site, lambda part: HourEntry.id.in_(list(part)), ids)


def _enqueue(site: Site, within: Any, keys: Sequence[int]) -> int:
    if site.kind not in ROSTER_KINDS:
        return 0
    count = 0
    with write_transaction():
        for part in chunks(keys):
            query = (
                HourEntry.select(HourEntry.id)
                .join(Account)
                .where(
                    within(part)
                    & (Account.site == site.id)
                    & Account.person_id.is_null(False)
                    & (HourEntry.status == "approved")
                    & (HourEntry.deleted == False)  # noqa: E712
                    & ~HourEntry.id.in_(Outbox.select(Outbox.entry))
                )
                .tuples()
            )
            entry_ids = [int(r[0]) for r in cast(Any, query)]
            rows = [
                {
                    "entry": eid,
                    "resource": site.kind,
                    "operation": "create",
                    "state": "pending",
                    "reference": reference_for(site.id, eid),
                    "next_try_at": utcnow(),
                }
                for eid in entry_ids
            ]
            for batch in chunks(rows, 100):
                Outbox.insert_many(batch).execute()
            count += len(rows)
    return count


def requeue_failed(site: Site) -> int:
    """Put the site's failed rows back in the queue (``writeback --retry-failed``)."""
    with write_transaction():
        return int(
            Outbox.update(state="pending", attempts=0, next_try_at=utcnow())
            .where((Outbox.state == "failed") & Outbox.entry.in_(_site_entries(site)))
            .execute()
        )


def _site_entries(site: Site) -> Any:
    return HourEntry.select(HourEntry.id).join(Account).where(Account.site == site.id)


@dataclass(frozen=True)
class FailedRow:
    """A write FACTS never took, with the reason (``writeback --failed``)."""

    entry_id: int
    email: str | None
    person_id: int | None
    date: date
    hours: float
    operation: str
    attempts: int
    last_error: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "entryId": self.entry_id,
            "email": self.email,
            "personId": self.person_id,
            "date": self.date.isoformat(),
            "hours": self.hours,
            "operation": self.operation,
            "attempts": self.attempts,
            "lastError": self.last_error,
        }


def failed_rows(site: Site) -> list[FailedRow]:
    query = (
        Outbox.select(Outbox, HourEntry, Account)
        .join(HourEntry)
        .join(Account)
        .where((Account.site == site.id) & (Outbox.state == "failed"))
        .order_by(Outbox.id)
    )
    return [
        FailedRow(
            entry_id=row.entry.id,
            email=row.entry.account.email,
            person_id=row.entry.account.person_id,
            date=row.entry.date,
            hours=float(row.entry.hours),
            operation=row.operation,
            attempts=row.attempts,
            last_error=row.last_error,
        )
        for row in query
    ]
