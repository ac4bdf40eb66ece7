"""One harness for every screen: the stores, the sandbox school, the app, and what it shows.

- ``demo_store(tmp_path)``: a copy of the demo store (``make demo``), built once per session.
- ``make_env(tmp_path)``: a small store with one site, for the screens beside the flow.
- ``sandbox_transport()``: the demo school, one in-process sandbox for the whole session.
- ``make_app(store, tmp_path)``: the real app on a store; ``StepApp`` opens it on one step.
- ``settle``, ``screen_text``, ``wait_for_text``: drive it like a person and read the screen.

Fixtures: ``sandbox``, ``store`` (the demo store), ``app`` (on it) and ``pilot`` (the app
running at 100x32, settled).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console
from textual.app import App
from textual.pilot import Pilot

from core.accounts import add_account
from core.connection import sandbox_for
from core.demo import DEMO_BASE_URL, DEMO_DB_NAME, build_demo_store
from core.facts.client import FactsClient
from core.facts.fetch import fetch_roster
from core.facts.plans import SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY
from core.facts.sandbox import SandboxConfig
from core.hours import add_entry
from core.roster import Roster
from core.sites import add_site
from core.workspace import Workspace
from store import Store, open_store
from store.models import Account, Connection, Site, SyncRun, utcnow
from tui.app import FactsyncApp
from tui.flow import StepId
from tui.services import Services

SITE = "Lincoln PTA"

# --- stores ---------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _template() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="factsync-tui-template-"))
    return build_demo_store(folder)


def demo_store(tmp_path: Path) -> Store:
    """A fresh copy of the demo store (what ``make demo`` builds) in ``tmp_path``."""
    template = _template()
    target = tmp_path / "demo.db"
    for source in template.parent.glob(DEMO_DB_NAME + "*"):
        shutil.copy(source, tmp_path / source.name.replace(DEMO_DB_NAME, "demo.db"))
    store = open_store(target)
    Connection.update(checked_at=utcnow()).execute()
    return store


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
    """A store with the site "Lincoln PTA" and nothing else (tests add what they need)."""
    store = open_store(tmp_path / "s.db")
    site = add_site(store, SITE)
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


# --- the sandbox school --------------------------------------------------------------------------


def sandbox_transport() -> httpx.AsyncBaseTransport:
    """The demo school, shared by every app in the session (no hours file)."""
    sandbox = sandbox_for(DEMO_BASE_URL, None)
    transport: httpx.AsyncBaseTransport = sandbox.transport()  # type: ignore[attr-defined]
    return transport


@lru_cache(maxsize=2)
def demo_roster(kind: str) -> Roster:
    """The demo school read once per kind, for tests that start past the Read step."""

    async def read() -> Roster:
        client = FactsClient(SandboxConfig().base_url, SANDBOX_SUBSCRIPTION_KEY, SANDBOX_API_KEY,
                             plan="enterprise", transport=sandbox_transport())
        async with client:
            return await fetch_roster(client, kind)  # type: ignore[arg-type]

    with ThreadPoolExecutor(1) as pool:  # callers may be inside an event loop
        return pool.submit(asyncio.run, read()).result()


# --- the app -------------------------------------------------------------------------------------


def services_for(store: Store, tmp_path: Path, *, shared_sandbox: bool = True) -> Services:
    core = Workspace(store, sandbox_transport() if shared_sandbox else None,
                     export_dir=tmp_path / "exports", approver="Ms Admin")
    return Services(core)


def make_app(store: Store, tmp_path: Path, *, walkthrough: bool = False,
             shared_sandbox: bool = True) -> FactsyncApp:
    return FactsyncApp(services_for(store, tmp_path, shared_sandbox=shared_sandbox),
                       walkthrough=walkthrough)


class StepApp(FactsyncApp):
    """The app opened on one step of a site, as a person reaches it from Home."""

    def __init__(self, services: Services, step: StepId, site: str = SITE) -> None:
        super().__init__(services)
        self.start = (step, site)

    def on_mount(self) -> None:
        step, site = self.start
        self.site = site
        self.open_step(step, site)


def step_app(env: Env, step: StepId, tmp_path: Path | None = None) -> StepApp:
    folder = tmp_path or Path(tempfile.mkdtemp(prefix="factsync-exports-"))
    return StepApp(services_for(env.store, folder, shared_sandbox=False), step, env.site.name)


async def settle(pilot: Pilot[Any], rounds: int = 3) -> None:
    """Let workers finish and their results paint (workers may start more workers)."""
    for _ in range(rounds):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def screen_text(app: App[Any]) -> str:
    """The terminal as the admin sees it, as plain text."""
    update = app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens
    )
    console = Console(width=app.size.width, record=True, file=io.StringIO(), color_system=None,
                      legacy_windows=False)
    console.print(update)
    return console.export_text()


async def wait_for_text(pilot: Pilot[Any], needle: str, timeout: float = 20.0) -> str:
    """Wait until ``needle`` shows on screen (a fetch or a plan can take a moment)."""
    deadline = time.monotonic() + timeout
    started = time.monotonic()
    await pilot.pause()
    while True:
        text = screen_text(pilot.app)
        if needle in text:
            if os.environ.get("TUI_TIMING"):
                print(f"{time.monotonic() - started:6.2f}s  {needle}")
            await pilot.pause()
            return screen_text(pilot.app)
        if time.monotonic() > deadline:
            raise AssertionError(f"{needle!r} never showed; the screen was:\n{text}")
        await asyncio.sleep(0.02)
        await pilot.pause()


# --- fixtures ------------------------------------------------------------------------------------

TEST_USER = "tester"
"""The OS user every test acts as (``getpass`` reads LOGNAME first): events and screens that
show the actor do not depend on who runs the suite."""


@pytest.fixture(autouse=True)
def _os_user(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.actor import SERVE_LOGIN_ENV

    monkeypatch.setenv("LOGNAME", TEST_USER)
    monkeypatch.delenv(SERVE_LOGIN_ENV, raising=False)



@pytest.fixture
def sandbox() -> httpx.AsyncBaseTransport:
    return sandbox_transport()


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return demo_store(tmp_path)


@pytest.fixture
def app(store: Store, tmp_path: Path) -> FactsyncApp:
    return make_app(store, tmp_path)


@pytest.fixture
async def pilot(app: FactsyncApp) -> AsyncIterator[Pilot[Any]]:
    async with app.run_test(size=(100, 32)) as running:
        await settle(running)
        yield running
