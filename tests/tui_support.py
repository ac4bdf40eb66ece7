"""Helpers for the wizard's Pilot and snapshot tests: a demo store, the app, what the screen shows.

The demo store is built once per test session and copied for each test (its connection marked as
checked now), and every app talks to one shared in-process sandbox school: the same data as
``make demo``, without generating the school for every test.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from textual.app import App
from textual.pilot import Pilot

from core.connection import sandbox_for
from core.demo import DEMO_BASE_URL, DEMO_DB_NAME, build_demo_store
from core.facts.client import FactsClient
from core.facts.fetch import fetch_roster
from core.facts.plans import SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY
from core.facts.sandbox import SandboxConfig
from core.roster import Roster
from store import Store, open_store
from store.models import Connection, utcnow
from tui.app import FactsyncApp
from tui.services import Services


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


def make_app(store: Store, tmp_path: Path, *, walkthrough: bool = False,
             shared_sandbox: bool = True) -> FactsyncApp:
    services = Services(store, sandbox_transport() if shared_sandbox else None,
                        export_dir=tmp_path / "exports", approver="Ms Admin")
    return FactsyncApp(services, walkthrough=walkthrough)


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
