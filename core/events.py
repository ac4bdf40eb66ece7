"""Who did what: every run, decision, setup change, grouping, merge, undo, hold approval or
rejection, hour-syncing switch and forget records an event with its actor and time.

:func:`record` is called by the use case itself, inside its transaction, so a change and its
event are written together or not at all. The actor comes from :func:`core.actor.current_actor`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.actor import current_actor, describe
from store import Store
from store import events as repo
from store.models import Site, SyncRun


def record(
    store: Store,
    site: Site | None,
    action: str,
    summary: str,
    *,
    run: SyncRun | None = None,
    account_id: int | None = None,
) -> int:
    """Record that the current actor did ``action`` (``summary`` in words); returns its id."""
    who = current_actor()
    return repo.add(store, site_id=site.id if site is not None else None, action=action,
                    summary=summary, actor=who.name, via=who.via, host=who.host,
                    run_id=run.id if run is not None else None, account_id=account_id)


@dataclass(frozen=True)
class EventView:
    """One event as ``history --events`` and the History screen show it."""

    id: int
    at: datetime
    actor: str | None
    """None: recorded before actors were (shown as "unknown")."""
    via: str | None
    host: str | None
    action: str
    summary: str
    run: int | None
    account_id: int | None

    @property
    def who(self) -> str:
        return describe(self.actor, self.via, self.host)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "at": self.at.isoformat(), "actor": self.actor, "via": self.via,
                "host": self.host, "action": self.action, "summary": self.summary,
                "run": self.run, "accountId": self.account_id}


def site_events(store: Store, site: Site, *, limit: int = 200) -> list[EventView]:
    """The site's events, newest first."""
    return [
        EventView(r.id, r.at, r.actor, r.via, r.host, r.action,
                  r.summary or (f"{r.action} run {r.run_number}" if r.run_number else ""),
                  r.run_number, r.account_id)
        for r in repo.of_site(store, site.id, limit=limit)
    ]


def run_actors(store: Store, run_ids: list[int]) -> dict[int, repo.Who]:
    """Run id -> (actor, via, host) of its event (actor None: a run from before actors)."""
    return repo.run_actors(store, run_ids)
