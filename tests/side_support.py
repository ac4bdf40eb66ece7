"""Helpers for the side-screen tests: a store with a site, hostile names, hours; a tiny app."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.app import App
from textual.pilot import Pilot
from textual.screen import Screen

from core.accounts import add_account
from core.hours import add_entry
from core.sites import add_site
from store import Store, open_store
from store.models import Account, Connection, Site, SyncRun

MARKUP_NAME = "[bold]x[/] [link=http://e]y"
LONG_NAME = "Maximiliana-" + "Q" * 288  # 300 characters
CONTROL_NAME = "Ctl\x1b[31mRed\x07\u202eEvil"
DAY = dt.date(2024, 3, 4)
WHEN = dt.datetime(2024, 3, 5, 9, 30)


@dataclass
class Env:
    store: Store
    site: Site


def make_env(tmp_path: Path, *, kind: str | None = "parents", connected: bool = False,
             people_write: bool | None = True) -> Env:
    store = open_store(tmp_path / "s.db")
    site = add_site(store, "Lincoln PTA")
    if kind is not None:
        site.kind = kind
        site.save()
    if connected:
        Connection.create(site=site, base_url="https://api.factsmgt.com", plan="enterprise",
                          people_read=True, people_write=people_write, academics_read=True)
    return Env(store, site)


def account(env: Env, email: str, first: str, last: str, *, person_id: int | None = None,
            family: str | None = None) -> Account:
    acc = add_account(env.site, email=email, first_name=first, last_name=last)
    if person_id is not None or family is not None:
        acc.person_id = person_id
        acc.family_key = family
        acc.origin = "sis" if person_id is not None else acc.origin
        # names are stored as FACTS sent them (sync keeps control characters out, but not
        # markup): write them raw so the screens are tested against the worst case
        acc.save()
    return acc


def raw_names(acc: Account, first: str, last: str) -> None:
    """Store names exactly as given (bypassing cleaning) to test what the screens show."""
    Account.update(first_name=first, last_name=last).where(Account.id == acc.id).execute()


def hours(env: Env, email: str, amount: float, description: str, *, approved: bool = False,
          day: dt.date = DAY) -> int:
    entry = add_entry(env.site, email=email, day=day, hours=amount, description=description,
                      approved_by="Ms Admin" if approved else None)
    return int(entry.id)


def fix_run_times() -> None:
    """Runs get fixed times (snapshots must not depend on the clock)."""
    for i, run in enumerate(SyncRun.select().order_by(SyncRun.id)):
        run.started_at = WHEN + dt.timedelta(hours=i)
        run.finished_at = WHEN + dt.timedelta(hours=i, minutes=1)
        if run.undone_at is not None:
            run.undone_at = WHEN + dt.timedelta(hours=i, minutes=30)
        run.save()


class SideApp(App[None]):
    """An app whose only job is to show one side screen."""

    def __init__(self, make: Callable[[], Screen[Any]]) -> None:
        super().__init__()
        self._make = make

    def on_mount(self) -> None:
        self.push_screen(self._make())


async def settle(pilot: Pilot[Any]) -> None:
    """Let thread workers finish and their results paint."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def screen_text(app: App[Any]) -> str:
    """Everything the screen shows, as plain text (widgets' rendered lines)."""
    from textual.widgets import DataTable, Static

    screen = app.screen
    parts: list[str] = []
    for widget in screen.query(Static):
        parts.append(str(widget.render()))
    for table in screen.query(DataTable):
        for row in range(table.row_count):
            parts.append(" | ".join(str(c) for c in table.get_row_at(row)))
    return "\n".join(parts)
