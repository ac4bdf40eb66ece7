"""Benchmark: the parent subset grid on a 20,000-family roster, driven in ``run_test``.

Measures what an admin feels: time to first paint of the grid, a preset change (key to repaint),
a cursor move and a Space toggle (key to repaint). Targets: first paint under 1 s, preset change
under 150 ms, key to repaint under 50 ms. The engine's own ``review_grid`` (which builds the rows
once, in a worker, before the grid shows) is timed separately. Exits 1 when a target is missed.

    .venv/bin/python bench/grid.py [--families 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual import events  # noqa: E402
from textual.app import App, ComposeResult  # noqa: E402
from textual.widgets import Static  # noqa: E402

from core.demo import roster_from_school  # noqa: E402
from core.facts.sandbox import generate_school  # noqa: E402
from core.roster import Roster  # noqa: E402
from core.sync.grid import review_grid  # noqa: E402
from core.sync.setup import SetupDoc  # noqa: E402
from tui.grid_source import FamilyRowsSource  # noqa: E402
from tui.widgets.subset_grid import SubsetGrid  # noqa: E402

TARGET_FIRST_PAINT = 1.0
TARGET_PRESET = 0.150
TARGET_KEY = 0.050


def roster_for(families: int, seed: int = 7) -> Roster:
    """The roster a fetch of the generated school yields (without HTTP: the grid is measured)."""
    return roster_from_school(generate_school(families=families, seed=seed))


class GridApp(App[None]):
    def __init__(self, source: FamilyRowsSource) -> None:
        super().__init__()
        self.source = source

    def compose(self) -> ComposeResult:
        yield Static(id="totals")
        yield SubsetGrid(self.source, id="grid")

    def on_subset_grid_changed(self, event: SubsetGrid.Changed) -> None:
        t = self.source.totals()
        self.query_one("#totals", Static).update(
            f"families {t.families_importable} importable, users to sync {t.users_to_sync}"
        )


class FrameClock:
    """Counts finished frames: ``App._display`` is called once the compositor has rendered."""

    def __init__(self, app: App[None]) -> None:
        self.frames = 0
        self.last = 0.0
        original = app._display

        def display(screen: object, renderable: object) -> None:
            original(screen, renderable)  # type: ignore[arg-type]
            if renderable is not None:
                self.frames += 1
                self.last = time.perf_counter()

        app._display = display  # type: ignore[method-assign]

    async def wait(self, after: int, timeout: float = 10.0) -> float:
        """Wait for a frame after frame number ``after``; return when it was shown."""
        deadline = time.perf_counter() + timeout
        while self.frames <= after:
            if time.perf_counter() > deadline:
                raise TimeoutError("no new frame")
            await asyncio.sleep(0.0002)
        return self.last


DEBUG = False
KEYS = {"space": " ", "m": "m", "f": "f", "c": "c", "a": "a"}


async def measure(source: FamilyRowsSource, rounds: int) -> dict[str, float]:
    started = time.perf_counter()
    app = GridApp(source)
    out: dict[str, float] = {}
    async with app.run_test(size=(100, 32)) as pilot:
        clock = FrameClock(app)
        grid = app.query_one(SubsetGrid)
        while not grid.painted:
            await asyncio.sleep(0.0005)
        out["first_paint"] = time.perf_counter() - started
        grid.focus()
        await pilot.pause()

        async def key(k: str) -> float:
            """Key event in, the next finished frame out (what the admin waits for)."""
            await pilot.pause()
            frames = clock.frames
            t0 = time.perf_counter()
            event = events.Key(k, KEYS.get(k))
            event.set_sender(app)
            assert app._driver is not None
            app._driver.send_message(event)
            shown = await clock.wait(frames)
            return shown - t0

        presets, moves, toggles = [], [], []
        for _ in range(rounds):
            for k in ("m", "f", "c", "a"):
                presets.append(await key(k))
            for k in ("down", "pagedown", "up", "down", "end", "home"):
                moves.append(await key(k))
                if DEBUG:
                    print(k, round(moves[-1] * 1000, 1))
            two = next(i for i in range(len(source)) if len(source.slots(i)) >= 2)
            grid.cursor_row, grid.cursor_slot = two, 0
            moves.append(await key("right"))
            moves.append(await key("left"))
            toggles.append(await key("space"))
            toggles.append(await key("space"))
        out["preset_median"] = statistics.median(presets)
        out["preset_max"] = max(presets)
        out["move_median"] = statistics.median(moves)
        out["move_max"] = max(moves)
        out["toggle_median"] = statistics.median(toggles)
        out["toggle_max"] = max(toggles)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    t0 = time.perf_counter()
    roster = roster_for(args.families)
    t1 = time.perf_counter()
    setup = SetupDoc(kind="parents")
    rows = review_grid(roster, setup)
    t2 = time.perf_counter()
    source = FamilyRowsSource(rows, setup)
    t3 = time.perf_counter()
    figures = asyncio.run(measure(source, args.rounds))

    parents = sum(len(r.parents) for r in rows)
    print(f"roster: {args.families} families generated, {len(rows)} grid rows, {parents} slots")
    print(f"  (generate + parse the roster {t1 - t0:.2f} s; not part of the grid)")
    print(f"engine review_grid (worker, once per visit):  {t2 - t1:.3f} s")
    print(f"grid source build (worker, once per visit):   {t3 - t2:.3f} s")
    print(f"first paint (mount to first frame):          {figures['first_paint'] * 1000:.1f} ms"
          f"   target < {TARGET_FIRST_PAINT * 1000:.0f} ms")
    print(f"preset change (key to repaint): median {figures['preset_median'] * 1000:.1f} ms, "
          f"max {figures['preset_max'] * 1000:.1f} ms   target < {TARGET_PRESET * 1000:.0f} ms")
    print(f"cursor move (key to repaint):   median {figures['move_median'] * 1000:.1f} ms, "
          f"max {figures['move_max'] * 1000:.1f} ms   target < {TARGET_KEY * 1000:.0f} ms")
    print(f"space toggle (key to repaint):  median {figures['toggle_median'] * 1000:.1f} ms, "
          f"max {figures['toggle_max'] * 1000:.1f} ms   target < {TARGET_KEY * 1000:.0f} ms")
    missed = [
        name
        for name, value, target in (
            ("first paint", figures["first_paint"], TARGET_FIRST_PAINT),
            ("preset change", figures["preset_max"], TARGET_PRESET),
            ("cursor move", figures["move_max"], TARGET_KEY),
            ("space toggle", figures["toggle_max"], TARGET_KEY),
        )
        if value >= target
    ]
    if missed:
        print("missed: " + ", ".join(missed))
        return 1
    print("all targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
