"""Chaos: 1,000 approved entries, a faulty FACTS, worker processes SIGKILLed and restarted.

The sandbox (loopback HTTP, in this process) answers 10% 500s, 5% 429s and drops 5% of
connections *after* committing. Worker processes (this module run as a script) follow the outbox;
two of them are SIGKILLed at random moments and restarted. At the end FACTS holds exactly one
ServiceHours row per entry with the right personId, date and hours, and the store knows every
serviceHoursId.

Each injected 429 makes a worker's client wait its ``Retry-After`` (1 s) before sending anything
else, so one worker alone spends ~50 s, mostly waiting. The test runs twice: the issue's literal
form with one worker, and with three workers sharing the queue (which also exercises concurrent
claiming under crashes). ``FACTSYNC_CHAOS_SEED`` changes the kill moments.

Also here: two worker processes started at once on one store do not double-send.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.facts.errors import FactsError
from core.facts.models import StudentServiceHoursModel
from core.facts.sandbox import Faults, serve_in_thread
from store import open_store
from store.models import Connection, HourEntry, Outbox, Site
from tests.test_writeback_support import (
    Env,
    approved_entries,
    assert_exactly_once,
    make_client,
    make_env,
    make_sandbox,
    worker,
)

ROOT = Path(__file__).resolve().parent.parent
ENTRIES = 1000
KILLS = 2
CHAOS = Faults(p500=0.10, p429=0.05, drop_after_commit=0.05, seed=2024)


def spawn_worker(db: Path, site: str, base_url: str, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.test_writeback_chaos", str(db), site, base_url],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )


def open_rows() -> int:
    return int(Outbox.select().where(Outbox.state != "sent").count())


def run_chaos(
    env: Env,
    base_url: str,
    workers: int,
    tmp_path: Path,
    seed: int,
    meanwhile: list[Callable[[], bool]] | None = None,
) -> int:
    """Run ``workers`` follow processes until nothing is owed, killing two of them at random
    moments; ``meanwhile`` are changes made while they run (each returns True once done)."""
    rng = random.Random(seed)
    todo = list(meanwhile or ())
    next_change = time.monotonic() + rng.uniform(0.5, 2.0)
    log = tmp_path / "workers.log"
    db = env.store.path
    procs = [spawn_worker(db, env.site.name, base_url, log) for _ in range(workers)]
    kills = 0
    started = time.monotonic()
    next_kill = started + rng.uniform(1.0, 5.0)
    try:
        while open_rows() or kills < KILLS or todo:
            now = time.monotonic()
            if todo and now >= next_change:
                if todo[0]():
                    todo.pop(0)
                next_change = now + rng.uniform(0.5, 2.0)
            assert now - started < 240, f"chaos run stuck: {open_rows()} rows open\n{log.read_text()}"
            if kills < KILLS and now >= next_kill:
                victim = rng.randrange(len(procs))
                procs[victim].send_signal(signal.SIGKILL)
                procs[victim].wait()
                kills += 1
                procs[victim] = spawn_worker(db, env.site.name, base_url, log)
                next_kill = time.monotonic() + rng.uniform(1.0, 5.0)
            time.sleep(0.1)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                code = p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                raise
            assert code == 0, f"worker exited {code}\n{log.read_text()}"
    return kills


def test_chaos_exactly_once_across_faults_and_sigkills(tmp_path: Path) -> None:
    """The issue's literal form: one worker, killed twice, against a faulty FACTS."""
    env = make_env(tmp_path, accounts=60)
    approved_entries(env, ENTRIES)
    sb = make_sandbox(faults=CHAOS)
    with serve_in_thread(sb, port=0) as server:
        seed = int(os.environ.get("FACTSYNC_CHAOS_SEED", "7"))
        kills = run_chaos(env, server.base_url, 1, tmp_path, seed=seed)
    assert kills == KILLS
    faults = {f: sum(1 for r in sb.requests if r.fault == f) for f in ("p500", "p429")}
    dropped = sum(1 for r in sb.requests if r.fault == "drop_after_commit")
    assert faults["p500"] > 50 and faults["p429"] > 20 and dropped > 20
    assert_exactly_once(sb, env)


async def _post_rows(sb: Any, rows: list[tuple[int, dt.date, float, str, str]]) -> None:
    async with make_client(sb.transport()) as client:
        for pid, day, hours, description, note in rows:
            await client.post_service_hours("parents", StudentServiceHoursModel(
                serviceHoursId=0, personId=pid, description=description, hours=hours,
                date=dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC), note=note,
            ))


def test_chaos_with_facts_holding_hours_already_pull_import_and_changes(tmp_path: Path) -> None:
    """FACTS already holds K of the N entries (entered by hand, or written by a previous install
    with the entries' references) and hours no entry has; three workers under faults and kills;
    meanwhile a pull, approvals, edits and withdrawals. FACTS ends with exactly one row per live
    entry holding its hours, withdrawn entries count nothing, and the audit agrees."""
    from core import hours as hrs
    from core.writeback.audit import audit
    from core.writeback.pull import pull

    env = make_env(tmp_path, accounts=60)
    entries = approved_entries(env, 700)
    people = {a.id: a.person_id for a in env.accounts}
    lines = ["email,date,hours,description,status"]
    for j in range(200):
        k = j % 60
        status = "pending" if j % 4 == 0 else "approved"
        lines.append(f"user{k}@example.org,{dt.date(2025, 1, 1) + dt.timedelta(days=j % 90)},"
                     f"{1 + j % 3},Import {j},{status}")
    hrs.import_csv(env.site, "\n".join(lines) + "\n", approved_by="Ms. Admin")
    imported = [e for e in HourEntry.select().order_by(HourEntry.id) if e.id > entries[-1].id]
    sb = make_sandbox()
    hand = [e for e in entries if e.id % 7 == 0]  # typed into FACTS by the office
    previous = [e for e in imported if e.status == "approved" and e.id % 5 == 0]
    extra = [(people[env.accounts[k].id], dt.date(2023, 5, 1 + k), 2.0, f"Old {k}", "by hand")
             for k in range(30)]  # hours no entry has: pulled
    asyncio.run(_post_rows(sb, [
        *((people[e.account_id], e.date, e.hours, f"  {e.description.upper()} ", "front office")
          for e in hand),
        *((people[e.account_id], e.date, e.hours, e.description,
           f"factsync:{env.site.id}:{e.id} volunteer hours approved on {env.site.name} (factsync)")
          for e in previous),
        *extra,
    ]))
    before = len(sb.service_hours("parents"))
    sb.config.faults = CHAOS
    rng = random.Random(11)
    pending = [e.id for e in imported if e.status == "pending"]
    edits = rng.sample([e.id for e in entries if e.id % 7], 40)
    rejects = rng.sample([e.id for e in entries if e.id % 7 and e.id not in edits], 30)

    def do_pull() -> bool:
        try:
            asyncio.run(pull(env.store, env.site, transport=None))
        except FactsError:
            return False  # FACTS failed us: try again a moment later
        return True

    def approve() -> bool:
        hrs.approve(env.site, pending, by="Ms. Admin")
        return True

    def edit() -> bool:
        for eid in edits:
            hrs.edit_entry(env.site, eid, hours="7.5")
        return True

    def withdraw() -> bool:
        hrs.reject(env.site, rejects[:20])
        for eid in rejects[20:]:
            hrs.delete_entry(env.site, eid)
        return True

    with serve_in_thread(sb, port=0) as server:
        Connection.update(base_url=server.base_url).execute()
        kills = run_chaos(env, server.base_url, 3, tmp_path, seed=5,
                          meanwhile=[do_pull, approve, edit, withdraw])
        sb.config.faults = Faults()
        report = asyncio.run(audit(env.store, env.site))
    assert kills == KILLS
    assert report.agrees, [d.line() for d in report.differences]
    rows = {r["serviceHoursId"]: r for r in sb.service_hours("parents")}
    live = list(HourEntry.select().where((HourEntry.status == "approved")
                                         & (HourEntry.deleted == False)))  # noqa: E712
    held = {o.entry_id: o.service_hours_id for o in Outbox.select()}
    assert len(set(held.values())) == len(held)  # no FACTS row is two entries'
    for e in live:
        row = rows[held[e.id]]
        assert abs(row["hours"] - e.hours) < 1e-9 and row["personId"] == people[e.account_id]
    counting = [r for r in rows.values() if r["hours"]]
    assert len(counting) == len(live)  # exactly one counting row per live entry
    assert set(rows) == set(held.values())  # every FACTS row is exactly one entry's
    assert len(rows) == before + sum(1 for e in live if held[e.id] > before) + sum(
        1 for eid in rejects if held.get(eid, 0) > before)
    assert sum(1 for r in rows.values() if not r["hours"]) == sum(1 for e in rejects if e in held)


def test_two_workers_started_at_once_do_not_double_send(tmp_path: Path) -> None:
    env = make_env(tmp_path, accounts=40)
    approved_entries(env, 400)
    sb = make_sandbox(latency_ms=10)
    with serve_in_thread(sb, port=0) as server:
        args = [str(env.store.path), env.site.name, server.base_url, "drain"]
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "tests.test_writeback_chaos", *args],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for _ in range(2)
        ]
        outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    created = [json.loads(out)["created"] for out, _ in outs]
    assert sum(created) == 400 and min(created) > 0, created  # both worked, neither twice
    assert sb.count("POST") == 400
    assert_exactly_once(sb, env)


# --- the worker process -------------------------------------------------------------------------


async def run_worker(db: str, site_name: str, base_url: str, mode: str = "follow") -> None:
    store = open_store(db)
    site = Site.get(Site.name == site_name)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with make_client(base_url=base_url) as client:
        env = Env(store, site, [])
        if mode == "drain":
            report = await worker(env, client, batch_size=20).drain(stop)
            print(json.dumps(report.to_json()))
        else:
            await worker(env, client, batch_size=50, poll_s=0.2).follow(stop)


if __name__ == "__main__":
    asyncio.run(run_worker(*sys.argv[1:5]))
