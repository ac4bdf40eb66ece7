"""Snapshots of every wizard screen on the seeded demo school at 80x24 (the busiest also at
100x32), and the dialogs at 60x20, where their buttons must stay on screen.

Regenerate after an intended change with ``pytest tests/test_tui_snapshots.py --snapshot-update``
and look at the report before committing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from core.sync import service
from store import Store, open_store
from tests.conftest import (
    demo_roster,
    demo_store,
    make_app,
    sandbox_transport,
    settle,
    wait_for_text,
)
from tui.app import FactsyncApp
from tui.flow import StepId

SITE = "Lincoln PTA"
BIG = (100, 32)
SMALL = (80, 24)
TINY = (60, 20)

Step = tuple[Sequence[str], str] | Callable[[Pilot[Any]], Awaitable[None]]

CONNECT: list[Step] = [(["enter"], "People read")]
KIND: list[Step] = [*CONNECT, (["enter"], "One kind per site")]
FETCH: list[Step] = [*KIND, (["p", "enter"], "Press Enter to go on")]


def at(step: str, needle: str, kind: str = "parents") -> Step:
    """Open ``step`` directly with the demo roster already read (the steps before it are
    covered by their own snapshots and by the flow tests)."""

    async def run(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, FactsyncApp)
        app.site = SITE
        app.services.flow(SITE).read(demo_roster(kind))
        app.open_step(StepId(step), SITE)
        await wait_for_text(pilot, needle)

    return run


CRITERIA: list[Step] = [at("criteria", "students match")]
REVIEW: list[Step] = [at("review", "Preset All parents")]
CONFLICTS: list[Step] = [at("conflicts", "left to decide")]
DECISION: list[Step] = [*CONFLICTS, (["enter"], "Decide:")]
BULK: list[Step] = [*CONFLICTS, (["b"], "Decide by kind")]
BULK_CONFIRM: list[Step] = [*BULK, (["enter"], "Decide by kind?")]
PREVIEW: list[Step] = [at("preview", "New accounts")]
DRILL: list[Step] = [*PREVIEW, (["enter"], "without an account yet")]
MERGE: list[Step] = [*PREVIEW, (["tab", "m"], "Merge after the sync")]
SYNC: list[Step] = [*PREVIEW, (["s"], "Synced (run 1)")]


def command(action: str, needle: str) -> Step:
    async def run(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, FactsyncApp)
        app.site = SITE
        app.open_step(StepId(action), SITE)
        await wait_for_text(pilot, needle)

    return run


def steps(*items: Step) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run(pilot: Pilot[Any]) -> None:
        await wait_for_text(pilot, "Sites")
        for item in items:
            if callable(item):
                await item(pilot)
                continue
            keys, needle = item
            await pilot.press(*keys)
            await wait_for_text(pilot, needle)
        await settle(pilot, 1)
        for box in pilot.app.screen.query(Input):
            box.cursor_blink = False
        pilot.app.clear_notifications()

    return run


def synced_store(tmp_path: Path, **setup: Any) -> Store:
    """The demo store after a first parents sync (headless), then ``setup`` saved."""
    store = demo_store(tmp_path)
    service.save_setup(store, SITE, kind="parents")
    asyncio.run(service.sync(store, SITE, transport=sandbox_transport()))
    if setup:
        service.save_setup(store, SITE, **setup)
    return store


FLOW = [
    ("home", BIG, ()),
    ("home_small", SMALL, ()),
    ("connect", SMALL, CONNECT),
    ("kind", SMALL, KIND),
    ("fetch", SMALL, FETCH),
    ("criteria_small", SMALL, CRITERIA),
    ("review_parents_preset", BIG, [*REVIEW, (["m", "down", "down", "space"],
                                              "by an admin's choice")]),
    ("review_parents_small", SMALL, REVIEW),
    ("conflicts", BIG, CONFLICTS),
    ("conflicts_small", SMALL, CONFLICTS),
    ("decision", SMALL, DECISION),
    ("decision_tiny", TINY, DECISION),
    ("bulk", SMALL, BULK),
    ("bulk_confirm_tiny", TINY, BULK_CONFIRM),
    ("preview", BIG, PREVIEW),
    ("preview_small", SMALL, PREVIEW),
    ("drill", SMALL, DRILL),
    ("merge_after_sync", SMALL, MERGE),
    ("merge_after_sync_tiny", TINY, MERGE),
    ("sync", BIG, SYNC),
    ("sync_small", SMALL, SYNC),
    ("help", SMALL, [(["f1"], "Keys")]),
    ("help_tiny", TINY, [(["f1"], "Keys")]),
    ("new_site", SMALL, [(["n"], "Who this site rosters")]),
    ("new_site_tiny", TINY, [(["n"], "Who this site rosters")]),
]


@pytest.mark.parametrize(("name", "size", "path"), FLOW, ids=[f[0] for f in FLOW])
def test_flow_screen(name: str, size: tuple[int, int], path: list[Step], tmp_path: Path,
                     snap_compare: Any) -> None:
    store = demo_store(tmp_path)
    if name not in ("home", "home_small", "connect", "kind", "fetch", "help", "help_tiny",
                    "new_site", "new_site_tiny"):
        service.save_setup(store, SITE, kind="parents")
    app = make_app(store, tmp_path)
    assert snap_compare(app, terminal_size=size, run_before=steps(*path))


def test_walkthrough_on_review(tmp_path: Path, snap_compare: Any) -> None:
    store = demo_store(tmp_path)
    service.save_setup(store, SITE, kind="parents")
    app = make_app(store, tmp_path, walkthrough=True)
    assert snap_compare(app, terminal_size=BIG, run_before=steps(*REVIEW, (["m"], "Mothers")))


def test_conflicts_help_at_80x24(tmp_path: Path, snap_compare: Any) -> None:
    """F1 on Conflicts: its own footer under the dialog, the closing line in view."""
    store = demo_store(tmp_path)
    service.save_setup(store, SITE, kind="parents")
    app = make_app(store, tmp_path)
    assert snap_compare(app, terminal_size=SMALL, run_before=steps(*CONFLICTS,
                                                                   (["f1"], "Esc or F1 closes")))


def test_home_without_sites(tmp_path: Path, snap_compare: Any) -> None:
    app = make_app(open_store(tmp_path / "empty.db"), tmp_path)
    assert snap_compare(app, terminal_size=SMALL, run_before=steps())


def test_home_after_a_sync(tmp_path: Path, snap_compare: Any) -> None:
    app = make_app(synced_store(tmp_path), tmp_path)
    assert snap_compare(app, terminal_size=BIG, run_before=steps())


def test_begin_sync_result(tmp_path: Path, snap_compare: Any) -> None:
    app = make_app(synced_store(tmp_path), tmp_path)
    assert snap_compare(app, terminal_size=SMALL,
                        run_before=steps((["s"], "Nothing to change")))


def test_kind_fixed_after_a_sync(tmp_path: Path, snap_compare: Any) -> None:
    app = make_app(synced_store(tmp_path), tmp_path)
    assert snap_compare(app, terminal_size=SMALL, run_before=steps(*KIND))


@pytest.mark.parametrize("size", [BIG, TINY], ids=["100x32", "60x20"])
def test_archive_confirmation(size: tuple[int, int], tmp_path: Path, snap_compare: Any) -> None:
    app = make_app(synced_store(tmp_path, parents_preset="listed-first"), tmp_path)
    assert snap_compare(app, terminal_size=size, run_before=steps(
        command("preview", "Press Enter to go on"), (["enter"], "asked to confirm"),
        (["s"], "Archive many accounts?"),
    ))


def test_invites(tmp_path: Path, snap_compare: Any) -> None:
    app = make_app(synced_store(tmp_path), tmp_path)
    assert snap_compare(app, terminal_size=SMALL,
                        run_before=steps(command("invites", "New accounts to invite")))


def test_review_students(tmp_path: Path, snap_compare: Any) -> None:
    store = demo_store(tmp_path)
    service.save_setup(store, SITE, kind="students")
    app = make_app(store, tmp_path)
    assert snap_compare(app, terminal_size=SMALL, run_before=steps(
        at("review", "to roster", kind="students")))
