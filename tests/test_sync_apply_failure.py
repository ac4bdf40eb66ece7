"""A failed apply (an exception half-way, or the process killed) leaves the store as it was."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core.sites import add_site
from core.sync import service
from tests.sync_support import Env, add_hours, build_school, make_env, parent, student

ROOT = Path(__file__).resolve().parent.parent


def dump(path: Path) -> list[str]:
    """Every row of the store, as SQL, read through a separate connection.

    Left out: the shared rate budget (the fetch before the apply records its requests' send
    times there), and the sync lease a killed process leaves behind, which is not the site's
    data: it names a process that is gone, so it has lapsed (``store.leases``); the test below
    checks that too."""
    con = sqlite3.connect(path)
    try:
        return [line for line in con.iterdump()
                if not line.startswith(('INSERT INTO "rate_', 'INSERT INTO "lease"'))]
    finally:
        con.close()


def tables() -> dict[int, list]:  # type: ignore[type-arg]
    return {
        fid: [
            parent(fid * 10 + 1, "P", f"Fam{fid}", f"p{fid}@x.org"),
            student(fid * 10 + 2, "S", f"Fam{fid}", grade="05" if fid % 2 else "06"),
        ]
        for fid in range(1, 11)
    }


async def test_exception_half_way_leaves_the_store_exactly_as_before(tmp_path: Path) -> None:
    env: Env = make_env(tmp_path, build_school(tables()))
    await env.sync()
    add_hours(1, 1.5)
    changed = env.edit()
    changed["people"][10]["email"] = "new@x.org"  # an update (parent 61)
    for s in changed["students"][:4]:
        s["school"]["status"] = "Withdrawn"  # archives (4 of 10: confirmed below)
    changed["people"].append({"personId": 500, "firstName": "New", "lastName": "Kid", "email": "nk@x.org"})
    changed["personFamily"].append({"personId": 500, "familyId": 1, "familyOrder": 2})
    changed["parentStudent"].append({"id": 99, "parentID": 500, "studentID": 92, "relationship": "Father"})
    env.serve(changed)
    plan = await env.plan()
    assert plan.counts()["added"] and plan.counts()["updated"] and plan.counts()["archived"] == 4
    before = dump(env.store.path)
    # the archive step (after the adds and updates were written) hits a failing disk
    env.store.db.execute_sql(
        "CREATE TEMP TRIGGER boom BEFORE UPDATE ON account WHEN NEW.status = 'archived' "
        "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
    )
    with pytest.raises(Exception, match="disk on fire"):
        service.apply_plan(env.store, env.site, plan, confirm_archive=True)
    assert dump(env.store.path) == before
    env.store.db.execute_sql("DROP TRIGGER boom")
    run = service.apply_plan(env.store, env.site, plan, confirm_archive=True)
    assert run.id == 2


def test_process_killed_mid_apply_leaves_the_store_as_before(tmp_path: Path) -> None:
    from core.connection import save_connection
    from core.facts.plans import SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY
    from store import open_store

    db = tmp_path / "s.db"
    store = open_store(db)
    site = add_site(store, "pta")
    save_connection(store, site, base_url="sandbox:?families=40&seed=5", api_key=SANDBOX_API_KEY,
                    subscription_key=SANDBOX_SUBSCRIPTION_KEY)
    service.save_setup(store, site, kind="parents")
    store.close()
    before = dump(db)
    script = textwrap.dedent(
        f"""
        import asyncio, os
        from store import open_store
        from core.sync import service
        store = open_store({str(db)!r})
        con = store.db.connection()
        con.create_function("die", 0, lambda: os._exit(9))
        # killed after the accounts were inserted, while the journal is being written
        store.db.execute_sql(
            "CREATE TEMP TRIGGER die_now AFTER INSERT ON sync_change BEGIN SELECT die(); END")
        asyncio.run(service.sync(store, "pta"))
        print("not killed")
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert proc.returncode == 9, proc.stderr[-2000:]
    assert dump(db) == before
    store = open_store(db)
    try:
        assert service.history(store, "pta") == []
    finally:
        store.close()
