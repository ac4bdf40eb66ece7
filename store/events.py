"""The events of who did what: written in the transaction of the change they record, read for
``history --events`` and the History screen."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import peewee as pw

from store.db import Store
from store.models import Event, SyncRun


@dataclass(frozen=True)
class EventRow:
    id: int
    site_id: int | None
    at: datetime
    actor: str | None
    via: str | None
    host: str | None
    action: str
    summary: str
    run_number: int | None
    account_id: int | None


def add(
    store: Store,
    *,
    site_id: int | None,
    action: str,
    summary: str,
    actor: str,
    via: str,
    host: str,
    run_id: int | None = None,
    account_id: int | None = None,
) -> int:
    """Record one event (call inside the transaction of the change); returns its id."""
    with store.db.atomic():
        event: Event = Event.create(site=site_id, action=action, summary=summary, actor=actor,
                                    via=via, host=host, run=run_id, account_id=account_id)
    return int(event.id)


def of_site(store: Store, site_id: int, *, limit: int = 200) -> list[EventRow]:
    """The site's events, newest first."""
    query = (
        Event.select(Event.id, Event.site, Event.at, Event.actor, Event.via, Event.host,
                     Event.action, Event.summary, SyncRun.number, Event.account_id)
        .join(SyncRun, join_type=pw.JOIN.LEFT_OUTER, on=(Event.run == SyncRun.id))
        .where(Event.site == site_id)
        .order_by(Event.at.desc(), Event.id.desc())
        .limit(limit)
    )
    return [EventRow(*row) for row in cast(Any, query.tuples())]


Who = tuple[str | None, str | None, str | None]
"""(actor, via, host) of an event."""


def run_actors(store: Store, run_ids: Sequence[int]) -> dict[int, Who]:
    """Run id -> who its event names (actor None: recorded before actors were)."""
    if not run_ids:
        return {}
    rows = (Event.select(Event.run, Event.actor, Event.via, Event.host)
            .where(Event.run.in_(list(run_ids))).order_by(Event.id))
    out: dict[int, Who] = {}
    for run_id, actor, via, host in cast(Any, rows.tuples()):
        out.setdefault(int(run_id), (actor, via, host))
    return out
