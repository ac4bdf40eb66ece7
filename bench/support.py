"""Pieces the benchmarks share: the generated roster, timing, peak RSS and the target lines.

Every figure is printed with its target and, where the target is a ratio, with the baseline it was
divided by (measured in the same run, on the same machine, a moment apart).
"""

from __future__ import annotations

import resource
import sqlite3
import sys
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.demo import roster_from_school  # noqa: E402
from core.facts.sandbox import School, generate_school  # noqa: E402
from core.roster import Roster  # noqa: E402
from core.sync.setup import SetupDoc  # noqa: E402

T = TypeVar("T")


HISTORIES = ("light", "live")


@lru_cache(maxsize=2)
def school_for(families: int, seed: int = 7, history: str = "light") -> School:
    """The generated school, at the given history volume (light or live)."""
    return generate_school(families=families, seed=seed, history=history)


def roster_for(
    families: int, kind: str = "parents", seed: int = 7, history: str = "light"
) -> Roster:
    """The roster a fetch of the generated school yields (without HTTP: what follows is timed)."""
    return roster_from_school(school_for(families, seed, history), kind)


def setup_with_overrides(roster: Roster, count: int) -> SetupDoc:
    """A parents setup whose admin chose ``count`` parents one by one (two in three included),
    in the order the review shows them."""
    from core.sync.review import ReviewModel

    plain = ReviewModel(roster, SetupDoc(kind="parents"))
    pairs = [(plain.family(i)[0], s.person_id) for i in range(len(plain)) for s in plain.slots(i)]
    chosen = [{"family_id": f, "person_id": p, "include": n % 3 != 0}
              for n, (f, p) in enumerate(pairs[:count])]
    return SetupDoc.model_validate({"kind": "parents", "parents": {"overrides": chosen}})


def best_of(repeat: int, run: Callable[[], T]) -> tuple[float, T]:
    """The shortest wall time of ``repeat`` runs (the least disturbed by other processes)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        out = run()
        best = min(best, time.perf_counter() - started)
        result = out
    assert result is not None
    return best, result


def peak_rss_mb() -> float:
    """This process's peak RSS: VmHWM (ru_maxrss would include the parent's before exec)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def copy_db(source: Path, target: Path) -> Path:
    """A byte-for-byte copy of a store (SQLite's backup API: consistent even in WAL mode)."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return target


class Verdicts:
    """Collects each target's line and whether it holds; ``exit_code`` is 1 when one missed."""

    def __init__(self) -> None:
        self.missed: list[str] = []

    def check(self, name: str, figure: str, holds: bool, target: str) -> None:
        print(f"  {name:52} {figure:>28}   target {target:18} {'holds' if holds else 'MISSED'}")
        if not holds:
            self.missed.append(name)

    def ratio(self, name: str, value: float, base: float, limit: float, unit: str = "s") -> None:
        r = value / base if base else float("inf")
        self.check(name, f"{value:.3f} {unit} / {base:.3f} {unit} = {r:.2f}x", r <= limit,
                   f"<= {limit:g}x")

    def at_most(self, name: str, value: float, limit: float, unit: str = "s") -> None:
        shown = f"{value:.3f} s" if unit == "s" else f"{value:.0f} {unit}".strip()
        if limit:
            shown += f" = {value / limit:.0%} of target"
        self.check(name, shown, value <= limit, f"<= {limit:g} {unit}".strip())

    def exit_code(self) -> int:
        print("all targets hold" if not self.missed else "MISSED: " + "; ".join(self.missed))
        return 1 if self.missed else 0
