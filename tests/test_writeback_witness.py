"""FACTS is the witness: the six ways write-back doubled (or lost) an entry, each as a school met it.

1. a failed PATCH after an unknown POST; 2. a store restored from a backup; 3. undo of a sync that
linked an account whose hours were sent, then a rejection; 4. hours FACTS already holds, imported
again; 5. two processes on one key; 6. ``writeback --follow`` under a long write lock.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from core import accounts as acc
from core import hours as hrs
from core.connection import check_connection, save_connection
from core.facts.models import StudentServiceHoursModel
from core.facts.plans import SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY
from core.facts.sandbox import Sandbox, SandboxConfig, serve_in_thread
from core.sync import service
from store import open_store
from store.models import Account, Connection, HourEntry, Outbox, Site
from tests import sync_support
from tests.test_writeback_support import (
    Env,
    approved_entries,
    assert_exactly_once,
    hour_sync_on,
    make_client,
    make_env,
    make_sandbox,
    person_ids,
    school,
    worker,
)

ROOT = Path(__file__).resolve().parent.parent
FACTSYNC = [sys.executable, "-c", "from core.cli import main; main()"]


async def drain(env: Env, transport: httpx.AsyncBaseTransport, **config: Any) -> Any:
    async with make_client(transport) as client:
        return await worker(env, client, **config).drain()


class DropsFirstPostThenGoesAway(httpx.AsyncBaseTransport):
    """FACTS commits the first POST but the answer is lost; then the network is gone."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.dropped = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.dropped:
            raise httpx.ConnectError("network unreachable", request=request)
        response = await self.inner.handle_async_request(request)
        if request.method == "POST":
            self.dropped = True
            raise httpx.ReadError("connection reset by peer", request=request)
        return response


# --- 1. -----------------------------------------------------------------------------------------


async def test_case1_failed_patch_after_unknown_post_never_doubles(tmp_path: Path) -> None:
    env = make_env(tmp_path, accounts=1)
    (entry,) = approved_entries(env, 1)
    sb = make_sandbox()
    await drain(env, DropsFirstPostThenGoesAway(sb.transport()))
    assert len(sb.service_hours("parents")) == 1  # in FACTS, but the worker never heard so
    hrs.edit_entry(env.site, entry.id, hours="5")  # the admin corrects the entry
    sb.config.api_keys[SANDBOX_API_KEY]["People"] = "Read"  # the school sets People to Read
    report = await drain(env, sb.transport())
    assert report.disabled and "Read-only" in report.disabled
    assert sb.count("PATCH", status=403) == 1
    # the look-up found the row: its id is kept, and the entry is still "may be in FACTS"
    row = Outbox.get()
    assert row.service_hours_id == sb.service_hours("parents")[0]["serviceHoursId"]
    sb.config.api_keys[SANDBOX_API_KEY]["People"] = "Write"  # ...and grants Write again
    await check_connection(env.store, env.site, transport=sb.transport())
    await drain(env, sb.transport())
    (facts_row,) = sb.service_hours("parents")
    assert facts_row["hours"] == 5.0
    assert sb.count("POST") == 1
    assert_exactly_once(sb, env)


# --- 2. -----------------------------------------------------------------------------------------


def _copy_db(src: Path, dst: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        target = dst.with_name(dst.name + suffix)
        if target.exists():
            target.unlink()
        source = src.with_name(src.name + suffix)
        if source.exists():
            shutil.copy2(source, target)


async def test_case2_a_store_restored_from_a_backup_adopts_instead_of_reposting(
    tmp_path: Path,
) -> None:
    env = make_env(tmp_path, accounts=5)
    approved_entries(env, 5)
    db = env.store.path
    env.store.close()
    _copy_db(db, tmp_path / "backup.db")  # last night's backup: 5 entries owed, none sent
    env.store = open_store(db)
    sb = make_sandbox()
    await drain(env, sb.transport())
    assert len(sb.service_hours("parents")) == 5
    env.store.close()
    _copy_db(tmp_path / "backup.db", db)  # the school restores the backup
    env.store = open_store(db)
    assert Outbox.select().where(Outbox.state == "sent").count() == 0
    sb.clear_requests()
    report = await drain(env, sb.transport())
    assert sb.count("POST") == 0 and report.adopted == 5
    assert_exactly_once(sb, env)


# --- 3. -----------------------------------------------------------------------------------------


async def test_case3_undo_of_the_linking_sync_then_reject_withdraws_in_facts(
    tmp_path: Path,
) -> None:
    tables = sync_support.build_school(
        {10: [sync_support.parent(1, "Ann", "Lee", "ann@lee.org"),
              sync_support.student(3, "Cy", "Lee", "cy@lee.org")]}
    )
    senv = sync_support.make_env(tmp_path, tables)
    manual = acc.add_account(senv.site, email="ann@lee.org", first_name="Ann", last_name="Lee")
    entry = hrs.add_entry(senv.site, email="ann@lee.org", day="2024-10-01", hours=3,
                          description="Bake sale", approved_by="Ms. Admin")
    await senv.sync()  # links Ann's manual account to FACTS person 1: her 3 h are owed
    hour_sync_on(senv.site)
    assert Account.get_by_id(manual.id).person_id == 1
    env = Env(senv.store, Site.get_by_id(senv.site.id), [])
    Connection.update(people_read=True, people_write=True).execute()
    await drain(env, senv.sandbox.transport())
    (row,) = senv.sandbox.service_hours("parents")
    assert row["hours"] == 3.0 and row["personId"] == 1
    service.undo(senv.store, senv.site)  # the link is undone: the account has no personId now
    assert Account.get_by_id(manual.id).person_id is None
    hrs.reject(env.site, [entry.id])
    await drain(env, senv.sandbox.transport())
    (row,) = senv.sandbox.service_hours("parents")
    assert row["hours"] == 0 and "WITHDRAWN" in row["note"]
    assert Outbox.get().operation == "withdraw" and Outbox.get().state == "sent"


# --- 4. -----------------------------------------------------------------------------------------


async def post_by_hand(sb: Sandbox, rows: list[tuple[int, dt.date, float, str]]) -> None:
    """Rows a school entered in FACTS itself (before the integration): no factsync reference."""
    async with make_client(sb.transport()) as client:
        for pid, day, hours, description in rows:
            await client.post_service_hours(
                "parents",
                StudentServiceHoursModel(
                    serviceHoursId=0, personId=pid, description=description, hours=hours,
                    date=dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC),
                    note="entered in FACTS", verifiedBy="Front office",
                ),
            )


async def test_case4_hours_facts_already_holds_are_adopted_not_posted_again(
    tmp_path: Path,
) -> None:
    env = make_env(tmp_path, accounts=3)
    sb = make_sandbox()
    pids = person_ids()[:3]
    await post_by_hand(sb, [
        (pids[0], dt.date(2024, 10, 1), 2.0, "Book fair"),
        (pids[1], dt.date(2024, 10, 2), 1.5, "Car line"),
    ])
    csv_text = (
        "email,date,hours,description,status\n"
        "user0@example.org,2024-10-01,2,Book Fair ,approved\n"  # same row, typed differently
        "user1@example.org,2024-10-02,1.5,Car line,approved\n"
        "user2@example.org,2024-10-03,4,Gala,approved\n"
    )
    result = hrs.import_csv(env.site, csv_text, approved_by="Ms. Admin")
    assert len(result.imported) == 3
    sb.clear_requests()
    report = await drain(env, sb.transport())
    rows = sb.service_hours("parents")
    assert len(rows) == 3 and sb.count("POST") == 1  # only the Gala was new to FACTS
    assert report.adopted == 2 and report.created == 1
    ids = {o.entry.id: o.service_hours_id for o in Outbox.select()}
    assert sorted(ids.values()) == sorted(r["serviceHoursId"] for r in rows)
    assert all(o.state == "sent" for o in Outbox.select())


# --- 5. -----------------------------------------------------------------------------------------


def _site_with_hours(store_path: Path, name: str, kind: str, base_url: str, pids: list[int],
                     per_account: int) -> None:
    store = open_store(store_path)
    site = Site.create(name=name, plan="advanced", kind=kind)
    save_connection(store, site, base_url=base_url, api_key=SANDBOX_API_KEY,
                    subscription_key=SANDBOX_SUBSCRIPTION_KEY, plan="enterprise")
    Connection.update(people_read=True, people_write=True, academics_read=True).where(
        Connection.site == site.id).execute()
    hour_sync_on(site)
    for i, pid in enumerate(pids):
        email = f"{kind}{i}@example.org"
        Account.create(site=site, email=email, email_key=email, person_id=pid, origin="sis")
        for k in range(per_account):
            hrs.add_entry(site, email=email, day=dt.date(2024, 9, 1) + dt.timedelta(days=k),
                          hours=1, description=f"Shift {k}", approved_by="Ms. Admin")


def test_case5_two_processes_on_one_key_draw_no_429(tmp_path: Path) -> None:
    people = school().people
    parents = [int(p["personId"]) for p in people[:10]]
    students = [int(s["studentId"]) for s in school().students[:10]]
    sb = Sandbox(school(), SandboxConfig(plan="enterprise", cache=True, latency_ms=20,
                                         api_keys={SANDBOX_API_KEY: {"People": "Write"}}))
    db = tmp_path / "s.db"
    with serve_in_thread(sb, port=0) as server:
        _site_with_hours(db, "Parents PTA", "parents", server.base_url, parents, 5)
        _site_with_hours(db, "Student council", "students", server.base_url, students, 5)
        env = {**os.environ, "FACTSYNC_DB": str(db)}
        procs = [
            subprocess.Popen([*FACTSYNC, "writeback", name, "--json"], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for name in ("Parents PTA", "Student council")
        ]
        outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert [json.loads(out)["created"] for out, _ in outs] == [50, 50]
    assert len(sb.service_hours("parents")) == 50 and len(sb.service_hours("students")) == 50
    assert sb.count(status=429) == 0, f"{sb.count(status=429)} of {sb.count()} requests got 429"


# --- 6. -----------------------------------------------------------------------------------------

LOCK_S = 40.0


def test_case6_follow_survives_a_40_s_write_lock(tmp_path: Path) -> None:
    env = make_env(tmp_path, accounts=2, name="Lincoln")
    sb_url = "sandbox:?families=40&seed=3"
    save_connection(env.store, env.site, base_url=sb_url, api_key=SANDBOX_API_KEY,
                    subscription_key=SANDBOX_SUBSCRIPTION_KEY, plan="enterprise")
    Connection.update(people_read=True, people_write=True, academics_read=True).execute()
    first = hrs.add_entry(env.site, email="user0@example.org", day="2024-10-01", hours=1,
                          description="Before the lock", approved_by="x")
    penv = {**os.environ, "FACTSYNC_DB": str(env.store.path)}
    proc = subprocess.Popen([*FACTSYNC, "writeback", "Lincoln", "--follow"], cwd=ROOT, env=penv,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        def wait_sent(entry_id: int, limit: float) -> None:
            started = time.monotonic()
            while Outbox.get(Outbox.entry == entry_id).state != "sent":
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() - started < limit, f"entry {entry_id} not sent"
                time.sleep(0.1)

        wait_sent(first.id, 20)
        # an import holds the store's write lock for 40 s (four times the busy timeout)
        lock = sqlite3.connect(env.store.path, timeout=1)
        lock.execute("BEGIN IMMEDIATE")
        lock.execute("UPDATE site SET name = name")
        time.sleep(LOCK_S)
        assert proc.poll() is None, proc.communicate()
        lock.rollback()
        lock.close()
        second = hrs.add_entry(env.site, email="user1@example.org", day="2024-10-02", hours=2,
                               description="After the lock", approved_by="x")
        wait_sent(second.id, 30)
        assert proc.poll() is None
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert HourEntry.select().count() == 2


async def test_case6_sync_undo_and_merge_under_another_writer_say_try_again(
    tmp_path: Path,
) -> None:
    import pytest

    from core.sync.apply import SiteBusy

    tables = sync_support.build_school(
        {10: [sync_support.parent(1, "Ann", "Lee", "ann@lee.org"),
              sync_support.parent(2, "Bob", "Lee", "bob@lee.org", order=2),
              sync_support.student(3, "Cy", "Lee", "cy@lee.org")]}
    )
    senv = sync_support.make_env(tmp_path, tables)
    await senv.sync()
    senv.store.close()
    senv.store = open_store(tmp_path / "s.db", busy_timeout_ms=200)
    lock = sqlite3.connect(senv.store.path, timeout=1)
    lock.execute("BEGIN IMMEDIATE")  # another process is in the middle of a write
    try:
        message = "the site 'pta' is being changed by another process; try again"
        with pytest.raises(SiteBusy, match=message):
            service.undo(senv.store, senv.site)
        with pytest.raises(SiteBusy, match=message):
            acc.merge_accounts(senv.store, senv.site, keep="ann@lee.org", absorb="bob@lee.org")
        plan = await senv.plan()
        with pytest.raises(SiteBusy, match=message):
            service.apply_plan(senv.store, senv.site, plan)
    finally:
        lock.rollback()
        lock.close()
    service.undo(senv.store, senv.site)  # once the other writer is done, it goes through
    assert Account.select().count() == 0


async def test_odd_rows_in_facts_never_break_a_look_up(tmp_path: Path) -> None:
    """FACTS data is untrusted: a 300-character description, hours as text, a broken date."""
    env = make_env(tmp_path, accounts=2)
    a, b = approved_entries(env, 2)
    sb = make_sandbox()
    pid = env.accounts[0].person_id
    with sb.lock:
        for row in [
            {"personId": pid, "description": "x" * 300, "hours": "lots", "date": "2024-09-01"},
            {"personId": pid, "description": "[b]odd[/b]\x1b", "hours": 1.0, "date": "not a date",
             "note": f"factsync:{env.site.id}:{b.id} from somewhere"},
            {"personId": pid, "description": None, "hours": None, "date": None, "note": "n" * 300},
        ]:
            sb.hours.add("parents", {"serviceHoursId": 0, **row})
    report = await drain(env, sb.transport())
    assert report.failed == 0 and report.created == 1  # entry a; b's reference row is odd
    assert report.mismatches == 1 and "FACTS row" in report.duplicates[0]
    assert Outbox.get(Outbox.entry == a.id).state == "sent"
    assert sb.count("POST") == 1  # never posted b again over its (odd) row


class BusyKey(httpx.AsyncBaseTransport):
    """Another integration on the same vendor key: the gateway refuses the first ``n`` calls."""

    def __init__(self, inner: httpx.AsyncBaseTransport, n: int) -> None:
        self.inner, self.left = inner, n

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.left > 0:
            self.left -= 1
            return httpx.Response(429, headers={"Retry-After": "0"},
                                  json={"statusCode": 429, "message": "Rate limit is exceeded."})
        return await self.inner.handle_async_request(request)


async def test_case5_429s_from_outside_factsync_are_waited_out_not_fatal(tmp_path: Path) -> None:
    env = make_env(tmp_path, accounts=2)
    approved_entries(env, 2)
    sb = make_sandbox()
    report = await drain(env, BusyKey(sb.transport(), 12))  # more than the 5 retries of errors
    assert report.created == 2 and report.failed == 0 and report.error is None
    assert_exactly_once(sb, env)
