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
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.facts.sandbox import Faults, serve_in_thread
from store import open_store
from store.models import Outbox, Site
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


def run_chaos(env: Env, base_url: str, workers: int, tmp_path: Path, seed: int) -> int:
    rng = random.Random(seed)
    log = tmp_path / "workers.log"
    db = env.store.path
    procs = [spawn_worker(db, env.site.name, base_url, log) for _ in range(workers)]
    kills = 0
    started = time.monotonic()
    next_kill = started + rng.uniform(1.0, 5.0)
    try:
        while open_rows() or kills < KILLS:
            now = time.monotonic()
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


@pytest.mark.parametrize("workers", [1, 3], ids=["one-worker", "three-workers"])
def test_chaos_exactly_once_across_faults_and_sigkills(tmp_path: Path, workers: int) -> None:
    env = make_env(tmp_path, accounts=60)
    approved_entries(env, ENTRIES)
    sb = make_sandbox(faults=CHAOS)
    with serve_in_thread(sb, port=0) as server:
        seed = int(os.environ.get("FACTSYNC_CHAOS_SEED", "7"))
        kills = run_chaos(env, server.base_url, workers, tmp_path, seed=seed)
    assert kills == KILLS
    faults = {f: sum(1 for r in sb.requests if r.fault == f) for f in ("p500", "p429")}
    dropped = sum(1 for r in sb.requests if r.fault == "drop_after_commit")
    assert faults["p500"] > 50 and faults["p429"] > 20 and dropped > 20
    assert_exactly_once(sb, env)


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
