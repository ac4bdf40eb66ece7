"""The hour-syncing switch of a site: off for a new site until the admin has seen what turning it
on would send (N entries new to FACTS, M already there and adopted, K conflicting).

Schools know the switch from other FACTS integrations ("enable hour syncing?"). While it is off,
approvals still queue in the outbox; nothing is sent. Turning it on is one call for the wizard
(:func:`hour_sync_preview`, then :func:`set_hour_sync`) and one command headless.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from core.writeback.outbox import write_transaction
from core.writeback.witness import Forecast, entry_candidates, forecast
from store import Store
from store.models import Account, HourEntry, Outbox, Site


@dataclass(frozen=True)
class HourSyncPreview:
    """What turning hour syncing on would do with the entries the site owes FACTS now."""

    site: str
    on: bool
    forecast: Forecast
    changes: int
    """Rows already in FACTS with an edit or withdrawal waiting (PATCHed when on)."""

    @property
    def to_send(self) -> int:
        return self.forecast.new + len(self.forecast.conflicts)

    def to_json(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "hourSync": "on" if self.on else "off",
            "toSend": self.to_send,
            "inFacts": self.forecast.in_facts,
            "conflicts": len(self.forecast.conflicts),
            "changes": self.changes,
            "conflictEntries": [c.to_json() for c in self.forecast.conflicts],
        }

    def sentence(self) -> str:
        return (
            f"{self.to_send} approved entries to send, {self.forecast.in_facts} already in FACTS "
            f"(adopted, not sent), {len(self.forecast.conflicts)} conflicts (same person and "
            "date, different hours)"
            + (f"; {self.changes} changes to rows already in FACTS" if self.changes else "")
        )


def _owed(site: Site) -> Any:
    return (
        Outbox.select(Outbox, HourEntry, Account)
        .join(HourEntry)
        .join(Account)
        .where((Account.site == site.id) & Outbox.state.in_(("pending", "inflight", "failed")))
    )


def owed_entries(site: Site) -> int:
    """Entries the site owes FACTS right now (what the wizard's offer to turn syncing on counts)."""
    return int(_owed(site).count())


async def hour_sync_preview(
    store: Store, site: Site, *, transport: httpx.AsyncBaseTransport | None = None
) -> HourSyncPreview:
    """Read FACTS for the people of every entry owed, and say what turning syncing on would
    do (conflicts are sent all the same: FACTS can hold two rows on one day; they are shown
    so a person can look first). Changes nothing."""
    site = Site.get_by_id(site.id)
    first = [o for o in _owed(site) if o.service_hours_id is None]
    changes = int(_owed(site).where(Outbox.service_hours_id.is_null(False)).count())
    candidates, _ = entry_candidates(site, (o.entry for o in first))
    result = await forecast(store, site, candidates, transport=transport)
    return HourSyncPreview(site.name, bool(site.hour_sync), result, changes)


def set_hour_sync(store: Store, site: Site, on: bool) -> bool:
    """Turn the site's hour syncing on or off; returns whether it changed (a change is an
    event)."""
    from core import events

    with write_transaction():
        n = Site.update(hour_sync=on).where((Site.id == site.id) & (Site.hour_sync != on)).execute()
        if n:
            events.record(store, site, "hour-sync", f"hour syncing {'on' if on else 'off'}")
    site.hour_sync = on
    return bool(n)
