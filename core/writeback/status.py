"""A site's status at a glance: connection, permissions, last sync, outbox counts, last error."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import peewee as pw

from core.connection import connection_info
from core.facts.errors import ReadOnly
from store.models import Account, Connection, HourEntry, Outbox, Site, SyncRun, utcnow


@dataclass(frozen=True)
class OutboxError:
    entry_id: int
    email: str | None
    error: str
    at: datetime | None
    state: str


@dataclass(frozen=True)
class SiteStatus:
    site: str
    plan: str
    kind: str | None
    connected: bool
    base_url: str | None
    facts_plan: str | None
    checked_at: datetime | None
    people_read: bool | None
    people_write: bool | None
    academics_read: bool | None
    writeback_enabled: bool
    writeback_reason: str | None
    last_sync_at: datetime | None
    accounts_active: int
    accounts_linked: int
    outbox: dict[str, int]
    waiting_for_link: int
    last_error: OutboxError | None
    hour_sync: bool = False
    quota_until: datetime | None = None
    """FACTS's daily quota is used up: write-back resumes then (UTC)."""
    duplicates_in_facts: int = 0
    mismatches: int = 0

    def to_json(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        err = self.last_error
        return {
            "site": self.site,
            "plan": self.plan,
            "kind": self.kind,
            "connection": {
                "connected": self.connected,
                "baseUrl": self.base_url,
                "factsPlan": self.facts_plan,
                "checkedAt": iso(self.checked_at),
                "peopleRead": self.people_read,
                "peopleWrite": self.people_write,
                "academicsRead": self.academics_read,
            },
            "hourSync": "on" if self.hour_sync else "off",
            "writeBack": {"enabled": self.writeback_enabled, "reason": self.writeback_reason},
            "quotaResumesAt": iso(self.quota_until),
            "duplicatesInFacts": self.duplicates_in_facts,
            "mismatches": self.mismatches,
            "lastSyncAt": iso(self.last_sync_at),
            "accounts": {"active": self.accounts_active, "linked": self.accounts_linked},
            "outbox": dict(self.outbox),
            "waitingForLink": self.waiting_for_link,
            "lastWritebackError": None
            if err is None
            else {
                "entryId": err.entry_id,
                "email": err.email,
                "error": err.error,
                "at": iso(err.at),
                "state": err.state,
            },
        }


def writeback_state(site: Site) -> tuple[bool, str | None]:
    """Whether write-back runs for the site, and if not, the reason to show."""
    info = connection_info(site)
    if info is None:
        return False, "not connected to FACTS"
    if info.people_write is None:
        return False, "permissions not checked yet: run 'factsync connect' or write-back once"
    if not info.people_write:
        return False, info.last_error or ReadOnly("People").message
    return True, None


def outbox_counts(site: Site) -> dict[str, int]:
    query = (
        Outbox.select(Outbox.state, pw.fn.COUNT(Outbox.id))
        .join(HourEntry)
        .join(Account)
        .where(Account.site == site.id)
        .group_by(Outbox.state)
        .tuples()
    )
    raw = {str(s): int(n) for s, n in cast(Any, query)}
    return {
        "pending": raw.get("pending", 0) + raw.get("inflight", 0),
        "unconfirmed": raw.get("inflight", 0),
        "sent": raw.get("sent", 0),
        "failed": raw.get("failed", 0),
    }


def _last_error(site: Site) -> OutboxError | None:
    row: Outbox | None = (
        Outbox.select(Outbox, HourEntry, Account)
        .join(HourEntry)
        .join(Account)
        .where((Account.site == site.id) & Outbox.last_error.is_null(False))
        .order_by(Outbox.last_attempt_at.desc(nulls="LAST"), Outbox.id.desc())
        .first()
    )
    if row is None:
        return None
    return OutboxError(
        entry_id=row.entry.id,
        email=row.entry.account.email,
        error=str(row.last_error),
        at=row.last_attempt_at,
        state=row.state,
    )


def findings(site: Site) -> tuple[int, int]:
    """Entries FACTS holds more than one row for, and entries whose FACTS row holds hours or a
    date this store never sent (both found by write-back; a person settles them)."""
    rows = Outbox.select().join(HourEntry).join(Account).where(Account.site == site.id)
    return (
        rows.where(Outbox.facts_duplicates.is_null(False)).count(),
        rows.where(Outbox.mismatch.is_null(False)).count(),
    )


def site_status(site: Site) -> SiteStatus:
    site = Site.get_by_id(site.id)
    info = connection_info(site)
    enabled, reason = writeback_state(site)
    last_sync = (
        SyncRun.select(pw.fn.MAX(SyncRun.finished_at))
        .where((SyncRun.site == site.id) & (SyncRun.kind == "sync") & SyncRun.undone_at.is_null())
        .scalar()
    )
    accounts = Account.select().where((Account.site == site.id) & (Account.status == "active"))
    conn: Connection | None = Connection.get_or_none(Connection.site == site.id)
    quota = conn.quota_until if conn is not None else None
    dups, mismatches = findings(site)
    waiting = (
        HourEntry.select()
        .join(Account)
        .where(
            (Account.site == site.id)
            & Account.person_id.is_null()
            & (HourEntry.status == "approved")
            & (HourEntry.deleted == False)  # noqa: E712
        )
        .count()
    )
    return SiteStatus(
        site=site.name,
        plan=site.plan,
        kind=site.kind,
        connected=info is not None,
        base_url=info.base_url if info else None,
        facts_plan=info.plan if info else None,
        checked_at=info.checked_at if info else None,
        people_read=info.people_read if info else None,
        people_write=info.people_write if info else None,
        academics_read=info.academics_read if info else None,
        writeback_enabled=enabled,
        writeback_reason=reason,
        last_sync_at=last_sync,
        accounts_active=accounts.count(),
        accounts_linked=accounts.where(Account.person_id.is_null(False)).count(),
        outbox=outbox_counts(site),
        waiting_for_link=waiting,
        last_error=_last_error(site),
        hour_sync=bool(site.hour_sync),
        quota_until=quota if quota is not None and quota > utcnow() else None,
        duplicates_in_facts=dups,
        mismatches=mismatches,
    )
