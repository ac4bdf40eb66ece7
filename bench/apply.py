"""Benchmark: apply (SyncPlan -> store) against the raw SQLite floor measured in the same run.

Three targets (issue 13), each timed as the best of ``--repeat`` runs on fresh copies of one store:
- **first sync** (every account added) at each size: at most 3x the floor, where the floor is
  sqlite3's ``executemany`` of exactly the account and journal rows the apply wrote, in one
  transaction, on a copy of the same store;
- **grade rollover** (every student's grade changes, students site): at most 3x the floor of the
  same UPDATEs (one per account, the columns the apply writes) and journal rows;
- **adds onto a full site**: about 5,000 adds onto about 20,000 existing accounts take at most
  1.2x (per add) the same adds onto an empty site.

    .venv/bin/python bench/apply.py [--families 5000 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.support import Verdicts, copy_db, roster_for  # noqa: E402
from core.roster import Roster  # noqa: E402
from core.sites import add_site  # noqa: E402
from core.sync import service  # noqa: E402
from core.sync.plan import SyncPlan  # noqa: E402
from store import open_store  # noqa: E402
from store.db import PRAGMAS  # noqa: E402
from store.models import Account, SyncChange, SyncRun  # noqa: E402

RUNS, CHANGES, ACCOUNTS = (m._meta.table_name for m in (SyncRun, SyncChange, Account))
FIRST_SYNC_LIMIT = 3.0
ROLLOVER_LIMIT = 3.0
ADDS_LIMIT = 1.2
FULL_SITE_FAMILIES = 20_000
ADDED_SHARE = 5  # one family in five is new: ~5,000 adds onto ~20,000 accounts


def _template(path: Path, kind: str, roster: Roster | None = None) -> Path:
    """A store with one site of ``kind`` and its setup; synced once from ``roster`` if given."""
    store = open_store(path)
    try:
        add_site(store, kind)
        service.save_setup(store, kind, kind=kind)
        if roster is not None:
            service.apply_plan(store, kind, service.make_plan(store, kind, roster), True)
    finally:
        store.close()
    return path


def _plan(path: Path, kind: str, roster: Roster) -> SyncPlan:
    store = open_store(path)
    try:
        return service.make_plan(store, kind, roster)
    finally:
        store.close()


def _time_apply(
    template: Path, kind: str, plan: SyncPlan, repeat: int, tmp: Path
) -> tuple[float, Path]:
    """Best apply time over fresh copies of ``template``; returns it and the last copy."""
    best, copy = float("inf"), template
    for i in range(repeat):
        copy = copy_db(template, tmp / f"apply-{template.stem}-{i}.db")
        store = open_store(copy)
        try:
            started = time.perf_counter()
            service.apply_plan(store, kind, plan, confirm_archive=True)
            best = min(best, time.perf_counter() - started)
        finally:
            store.close()
    return best, copy


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in db.execute(f'PRAGMA table_info("{table}")')]


def _rows(db: sqlite3.Connection, table: str, where: str = "1", args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    return list(db.execute(f'SELECT * FROM "{table}" WHERE {where} ORDER BY id', args))


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    for name, value in PRAGMAS.items():
        db.execute(f"PRAGMA {name} = {value}")
    return db


def _insert(db: sqlite3.Connection, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    db.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', rows)


def _floor(template: Path, applied: Path, repeat: int, tmp: Path, *, updated: list[str] | None) -> float:
    """Raw sqlite3 writing what the apply wrote into ``applied``, on copies of ``template``.

    ``updated`` None: the new accounts are inserted; else those account columns are UPDATEd.
    """
    src = sqlite3.connect(applied)
    before = sqlite3.connect(template)
    last_run = before.execute(f"SELECT COALESCE(MAX(id), 0) FROM {RUNS}").fetchone()[0]
    last_account = before.execute(f"SELECT COALESCE(MAX(id), 0) FROM {ACCOUNTS}").fetchone()[0]
    before.close()
    run_cols, change_cols = _columns(src, RUNS), _columns(src, CHANGES)
    runs = _rows(src, RUNS, "id > ?", (last_run,))
    changes = _rows(src, CHANGES, "run_id > ?", (last_run,))
    account_cols = _columns(src, ACCOUNTS)
    if updated is None:
        accounts = _rows(src, ACCOUNTS, "id > ?", (last_account,))
    else:
        ids = sorted({c[change_cols.index("account_id")] for c in changes})
        picked = [account_cols.index(c) for c in updated]
        by_id = {r[0]: r for r in _rows(src, ACCOUNTS)}
        accounts = [tuple(by_id[i][p] for p in picked) + (i,) for i in ids]
    src.close()
    times: list[float] = []
    for i in range(repeat):
        db = _connect(copy_db(template, tmp / f"floor-{template.stem}-{i}.db"))
        try:
            started = time.perf_counter()
            db.execute("BEGIN")
            _insert(db, RUNS, run_cols, runs)
            if updated is None:
                _insert(db, ACCOUNTS, account_cols, accounts)
            else:
                sets = ", ".join(f'"{c}" = ?' for c in updated)
                db.executemany(f'UPDATE "{ACCOUNTS}" SET {sets} WHERE id = ?', accounts)
            _insert(db, CHANGES, change_cols, changes)
            db.execute("COMMIT")
            times.append(time.perf_counter() - started)
        finally:
            db.close()
    return min(times)


def _rolled_over(roster: Roster) -> Roster:
    """Every student a grade up (the yearly rollover): each student account gets an update."""

    def up(grade: str | None) -> str:
        try:
            return str(int(grade or "") + 1)
        except ValueError:
            return "1"

    students = [
        replace(s, school=replace(s.school, gradeLevel=up(s.school.gradeLevel)))
        if s.school is not None
        else s
        for s in roster.students
    ]
    return replace(roster, students=students)


def _split(roster: Roster) -> tuple[Roster, Roster]:
    """The school without one family in ``ADDED_SHARE``, and those families alone."""
    families: dict[int, set[int]] = {}
    for pf in roster.person_families:
        families.setdefault(pf.personId, set()).add(pf.familyId)

    def new(student_id: int) -> bool:
        return any(f % ADDED_SHARE == 0 for f in families.get(student_id, ()))

    old = [s for s in roster.students if not new(s.studentId)]
    added = [s for s in roster.students if new(s.studentId)]
    return (
        replace(roster, students=old, announced_students=len(old)),
        replace(roster, students=added, announced_students=len(added)),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", type=int, nargs="+", default=[5000, 20_000])
    parser.add_argument("--full-site", type=int, default=FULL_SITE_FAMILIES,
                        help="families of the school whose new fifth is added onto the rest")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    verdicts = Verdicts()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        rosters = {n: roster_for(n) for n in {*args.families, args.full_site}}
        for families in args.families:
            roster = rosters[families]
            print(f"{families} families")
            # first sync: every account is new
            empty = _template(tmp / f"first-{families}.db", "parents")
            plan = _plan(empty, "parents", roster)
            took, applied = _time_apply(empty, "parents", plan, args.repeat, tmp)
            floor = _floor(empty, applied, args.repeat, tmp, updated=None)
            verdicts.ratio(f"first sync, {len(plan.of('add'))} accounts: apply / floor", took, floor,
                           FIRST_SYNC_LIMIT)
            # grade rollover of every student
            synced = _template(tmp / f"roll-{families}.db", "students", roster)
            plan = _plan(synced, "students", _rolled_over(roster))
            took, applied = _time_apply(synced, "students", plan, args.repeat, tmp)
            floor = _floor(synced, applied, args.repeat, tmp, updated=UPDATED_COLUMNS)
            verdicts.ratio(f"grade rollover, {len(plan.of('update'))} updates: apply / floor", took,
                           floor, ROLLOVER_LIMIT)
        # adds onto a full site against the same adds onto an empty one
        roster = rosters.pop(args.full_site)
        rosters.clear()
        old, added = _split(roster)
        full = _template(tmp / "full.db", "parents", old)
        onto_full = _plan(full, "parents", roster)
        empty = _template(tmp / "empty.db", "parents")
        onto_empty = _plan(empty, "parents", added)
        t_full, applied_full = _time_apply(full, "parents", onto_full, args.repeat, tmp)
        t_empty, applied_empty = _time_apply(empty, "parents", onto_empty, args.repeat, tmp)
        f_full = _floor(full, applied_full, args.repeat, tmp, updated=None)
        f_empty = _floor(empty, applied_empty, args.repeat, tmp, updated=None)
        n_full, n_empty = len(onto_full.of("add")), len(onto_empty.of("add"))
        existing = len(onto_full.of("unchanged"))
        print(f"{args.full_site} families: {n_full} adds onto {existing} accounts "
              f"({t_full:.3f} s; floor {f_full:.3f} s), {n_empty} adds onto an empty site "
              f"({t_empty:.3f} s; floor {f_empty:.3f} s)")
        verdicts.ratio(f"adds onto {existing} accounts, per add: full / empty",
                       t_full / n_full * 1000, t_empty / n_empty * 1000, ADDS_LIMIT, "ms")
    return verdicts.exit_code()


UPDATED_COLUMNS = [
    "email", "email_key", "first_name", "last_name", "role", "family_key", "grade", "person_id",
    "origin", "status", "archived_reason", "updated_at",
]
"""The account columns a sync update writes (the floor UPDATEs the same ones)."""


if __name__ == "__main__":
    raise SystemExit(main())
