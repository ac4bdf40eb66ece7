"""Helpers for the wizard's Pilot and snapshot tests: a demo store, the app, what the screen shows."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from textual.app import App
from textual.pilot import Pilot

from core.demo import populate_demo
from store import Store, open_store
from tui.app import FactsyncApp
from tui.services import Services

FIXED_NOW = datetime(2026, 11, 29, 9, 0, 0)


def demo_store(tmp_path: Path) -> Store:
    """A fresh demo store (the same one ``make demo`` builds) in ``tmp_path``."""
    store = open_store(tmp_path / "demo.db")
    populate_demo(store)
    return store


def make_app(store: Store, tmp_path: Path, *, walkthrough: bool = False) -> FactsyncApp:
    services = Services(store, export_dir=tmp_path / "exports", approver="Ms Admin")
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
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    await pilot.pause()
    while True:
        text = screen_text(pilot.app)
        if needle in text:
            await pilot.pause()
            return screen_text(pilot.app)
        if time.monotonic() > deadline:
            raise AssertionError(f"{needle!r} never showed; the screen was:\n{text}")
        await asyncio.sleep(0.02)
        await pilot.pause()
