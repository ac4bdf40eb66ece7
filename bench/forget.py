"""Benchmark: ``forget`` of one parent on a synced site, against the raw reading floor measured
in the same run.

The site is a generated school's parents site after its first sync (every account journaled).
The person forgotten has the most common first name of the site, so the search for names finds
the most rows it can. The floor is sqlite3 reading every text column of every table once for
the email alone (what any erasure must read at least), on a copy of the same store.

Target (issue 11 §5, chosen here: an admin waits for it at a terminal): at most 5 s at 20,000
families; the ratio to the floor is printed for reference.

    .venv/bin/python bench/forget.py [--families 5000 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.support import Verdicts, copy_db, roster_for  # noqa: E402
from core.forget import forget  # noqa: E402
from core.sites import add_site, get_site  # noqa: E402
from core.sync import service  # noqa: E402
from store import open_store  # noqa: E402
from store.models import Account, SyncChange  # noqa: E402

LIMIT_S = 5.0
LIMIT_FAMILIES = 20_000


def _template(path: Path, families: int) -> tuple[Path, str]:
    """A parents site synced once from the generated school; the email of the parent to
    forget (one with the most common first name)."""
    store = open_store(path)
    try:
        add_site(store, "pta")
        service.save_setup(store, "pta", kind="parents")
        roster = roster_for(families, "parents")
        service.apply_plan(store, "pta", service.make_plan(store, "pta", roster), True)
        common = Counter(a.first_name for a in Account.select(Account.first_name)).most_common(1)
        person = (Account.select().where((Account.first_name == common[0][0])
                                         & Account.email_key.is_null(False)).first())
        return path, str(person.email)
    finally:
        store.close()


def _forget(template: Path, email: str, repeat: int, tmp: Path) -> tuple[float, int]:
    best, values = float("inf"), 0
    for i in range(repeat):
        store = open_store(copy_db(template, tmp / f"forget-{template.stem}-{i}.db"))
        try:
            site = get_site(store, "pta")
            started = time.perf_counter()
            result = forget(store, site, email)
            best = min(best, time.perf_counter() - started)
            values = sum(result.rewritten.values())
        finally:
            store.close()
    return best, values


def _floor(template: Path, email: str, repeat: int, tmp: Path) -> float:
    """sqlite3 reading every text column of every table once for the email."""
    best = float("inf")
    for i in range(repeat):
        db = sqlite3.connect(copy_db(template, tmp / f"floor-{template.stem}-{i}.db"))
        try:
            tables = [r[0] for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'")]
            started = time.perf_counter()
            for table in tables:
                cols = [r[1] for r in db.execute(f'PRAGMA table_info("{table}")')
                        if r[2].upper() in ("TEXT", "VARCHAR(255)")]
                if cols:
                    where = " OR ".join(f'"{c}" LIKE ?' for c in cols)
                    db.execute(f'SELECT id FROM "{table}" WHERE {where}',
                               [f"%{email}%"] * len(cols)).fetchall()
            best = min(best, time.perf_counter() - started)
        finally:
            db.close()
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", type=int, nargs="+", default=[5000, 20000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    verdicts = Verdicts()
    with tempfile.TemporaryDirectory(prefix="factsync-bench-forget-") as folder:
        tmp = Path(folder)
        for families in args.families:
            template, email = _template(tmp / f"t{families}.db", families)
            store = open_store(template)
            accounts, journal = Account.select().count(), SyncChange.select().count()
            store.close()
            took, values = _forget(template, email, args.repeat, tmp)
            floor = _floor(template, email, args.repeat, tmp)
            print(f"{families:,} families: {accounts:,} accounts, {journal:,} journal rows; "
                  f"forget {took:.3f} s ({values} values rewritten), floor {floor:.3f} s "
                  f"(x{took / floor:.1f})")
            if families >= LIMIT_FAMILIES:
                verdicts.at_most(f"forget one parent ({families:,} families)", took, LIMIT_S)
    return verdicts.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())
