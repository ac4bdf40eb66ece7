"""Regenerate ``screenshots/*.svg``: one per screen, in tour order, on the seeded demo school.

Drives the real app with ``run_test()`` like a person (the demo store ``make demo`` opens, the
in-process sandbox school), saving an SVG at every step. Times shown on screen are pinned (a fixed
"now", fixed run and check times), so the files only change when a screen does.

    .venv/bin/python scripts/export_screenshots.py [--out screenshots]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual.pilot import Pilot  # noqa: E402
from textual.widgets import Input  # noqa: E402

from core.demo import DEMO_SITE, build_demo_store  # noqa: E402
from core.sync import service  # noqa: E402
from core.workspace import Workspace  # noqa: E402
from store import open_store  # noqa: E402
from store.models import Connection, SyncRun  # noqa: E402
from tui.app import FactsyncApp  # noqa: E402
from tui.flow import StepId  # noqa: E402
from tui.services import Services  # noqa: E402

os.environ["LOGNAME"] = "admin"  # who History says ran the runs (getpass reads LOGNAME first)
os.environ.pop("FACTSYNC_SERVE_LOGIN", None)

SIZE = (80, 24)
NOW = datetime(2026, 11, 29, 9, 30)
TIMEOUT = 30.0


def pin_times() -> None:
    """Store times near NOW, so "checked 5 min ago" and History read the same every run."""
    Connection.update(checked_at=NOW - timedelta(minutes=5)).execute()
    for i, run in enumerate(SyncRun.select().order_by(SyncRun.id)):
        run.started_at = NOW - timedelta(minutes=3 - i)
        run.finished_at = run.started_at + timedelta(seconds=2)
        run.save()


class Tour:
    def __init__(self, pilot: Pilot[Any], out: Path) -> None:
        self.pilot = pilot
        self.out = out
        self.count = 0

    async def wait(self, needle: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TIMEOUT
        from tests.conftest import screen_text  # the same reading of the screen as tests

        while needle not in screen_text(self.pilot.app):
            if loop.time() > deadline:
                raise SystemExit(f"screenshots: {needle!r} never showed")
            await self.pilot.pause(0.02)
        await self.pilot.pause()

    async def keys(self, *keys: str, wait: str) -> None:
        await self.pilot.press(*keys)
        await self.wait(wait)

    async def shot(self, name: str, before: Callable[[], None] | None = None) -> None:
        app = self.pilot.app
        await app.workers.wait_for_complete()
        await self.pilot.pause()
        if before is not None:
            before()
            await self.pilot.pause()
        for box in app.screen.query(Input):
            box.cursor_blink = False
        app.clear_notifications()
        await self.pilot.pause()
        self.count += 1
        filename = f"{self.count:02d}-{name}.svg"
        app.save_screenshot(filename=filename, path=str(self.out))
        print(f"  {filename}")


async def parents_tour(out: Path, workdir: Path) -> int:
    store = open_store(build_demo_store(workdir / "parents"))
    pin_times()
    app = FactsyncApp(Services(Workspace(store, now=lambda: NOW, export_dir=workdir,
                                         approver="Ms Admin")))
    async with app.run_test(size=SIZE) as pilot:
        t = Tour(pilot, out)
        await t.wait("Lincoln PTA")
        await t.shot("home")
        await t.keys("enter", wait="People read")
        await t.shot("connect")
        await t.keys("enter", wait="One kind per site")
        await t.shot("kind")
        await t.keys("p", "enter", wait="Press Enter to go on")
        await t.shot("read-from-facts")
        await t.keys("enter", wait="students match")
        await t.shot("criteria")
        await t.keys("enter", wait="Preset All parents")
        await t.keys("m", wait="Preset Mothers & fathers")
        await t.keys("down", "down", "space", wait="by an admin's choice")
        await t.shot("review-parents-grid")
        await t.keys("enter", wait="left to decide")
        await t.shot("conflicts")
        await t.keys("b", wait="Decide by kind")
        await t.shot("decide-by-kind")
        await t.keys("enter", wait="Decide by kind?")
        await t.keys("y", wait="● done")
        await t.pilot.app.workers.wait_for_complete()
        await t.keys("enter", wait="Decide:")
        await t.shot("conflict-decision")
        await t.keys("enter", wait="left to decide")
        await t.pilot.app.workers.wait_for_complete()
        await t.keys("n", wait="New accounts")
        await t.shot("preview")
        await t.keys("enter", wait="without an account yet")
        await t.shot("preview-drill-down")
        await t.keys("escape", "tab", "m", wait="Merge after the sync")
        await t.shot("merge-after-sync")
        await t.keys("enter", wait="merge after sync")
        await t.keys("s", wait="Synced (run 1)")
        await t.shot("sync-result")
        await t.keys("enter", wait="Last sync")
        await t.shot("home-after-sync", pin_times)
        await t.keys("s", wait="Nothing to change")
        await t.shot("begin-sync")
        await t.keys("enter", wait="Last sync")
        for key, name, needle in (("a", "accounts", "Type to search"),
                                  ("h", "hours", "Write-back outbox"),
                                  ("w", "write-back", "Write-back is"),
                                  ("y", "history", "runs"), ("f", "families", "family group")):
            await t.keys(key, wait=needle)
            await t.pilot.app.workers.wait_for_complete()
            await t.shot(name, pin_times)
            await t.keys("escape", wait="Last sync")
        # a second visit that would archive many accounts asks first
        service.save_setup(store, DEMO_SITE, parents_preset="listed-first")
        app.site = DEMO_SITE
        app.services.flow(DEMO_SITE).forget_plan()
        app.open_step(StepId.PREVIEW, DEMO_SITE)
        await t.wait("You will be asked")
        await t.keys("s", wait="Archive many accounts?")
        await t.shot("archive-confirmation")
        await t.keys("n", wait="You will be asked")
        await t.keys("f2", wait="Keys:")
        await t.shot("walkthrough")
        await t.keys("f1", wait="Likely duplicates")
        await t.shot("help")
        count = t.count
    store.close()
    return count


async def students_tour(out: Path, workdir: Path, start: int) -> None:
    store = open_store(build_demo_store(workdir / "students"))
    service.save_setup(store, DEMO_SITE, kind="students")
    pin_times()
    app = FactsyncApp(Services(Workspace(store, now=lambda: NOW, export_dir=workdir)))
    async with app.run_test(size=SIZE) as pilot:
        t = Tour(pilot, out)
        t.count = start
        await t.wait("Lincoln PTA")
        app.site = DEMO_SITE
        app.open_step(StepId.REVIEW, DEMO_SITE)
        await t.wait("Press Enter to go on")
        await t.keys("enter", wait="to roster")
        await t.shot("review-students")
    store.close()


async def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.svg"):
        old.unlink()
    with tempfile.TemporaryDirectory(prefix="factsync-shots-") as tmp:
        count = await parents_tour(out, Path(tmp))
        await students_tour(out, Path(tmp), count)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    args = parser.parse_args()
    print(f"writing screenshots to {args.out}/")
    asyncio.run(main(args.out))
