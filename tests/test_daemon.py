"""``factsync daemon`` in subprocesses against the sandbox on loopback (issue 10 §3): a
seconds-field schedule runs the sync, write-back runs on its own, SIGTERM mid-run leaves the
store as before or after and exits 0, and two daemons never sync one site at once."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.test_cli_contract import Run

ROOT = Path(__file__).resolve().parent.parent
FACTSYNC = [sys.executable, "-c", "from core.cli import main; main()"]


@pytest.fixture
def facts(request: pytest.FixtureRequest) -> Iterator[str]:
    """``factsync sandbox serve`` on loopback; ``@pytest.mark.parametrize('facts', [(families,
    latency_ms)], indirect=True)`` sizes it."""
    families, latency = getattr(request, "param", (30, 0))
    proc = subprocess.Popen(
        [*FACTSYNC, "sandbox", "serve", "--families", str(families), "--seed", "4", "--port", "0",
         "--plan", "enterprise", "--no-rate-limits", "--latency-ms", str(latency)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("base URL: "):
                yield line.removeprefix("base URL: ").strip()
                break
        else:
            raise AssertionError("the sandbox did not print its base URL")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class Daemon:
    """One ``factsync daemon`` process; its lines are read as they come."""

    def __init__(self, db: str) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [*FACTSYNC, "daemon", "--db", db, "--tick", "0.1", "--writeback-every", "0.5"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if re.search(pattern, line):
                    return line
            if self.proc.poll() is not None and not self.reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f"{pattern!r} never logged:\n" + "\n".join(self.lines))

    def terminate(self, timeout: float = 20.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        self.reader.join(5)
        return code


def site_on(tmp_path: Path, url: str, schedule: str = "* * * * * */2") -> Run:
    run = Run(tmp_path)
    run("site", "add", "kids")
    run("connect", "kids", "--base-url", url, "--facts-plan", "enterprise")
    run("setup", "kids", "--kind", "students", "--schedule", schedule)
    return run


def test_a_scheduled_sync_runs_write_back_follows_and_sigterm_exits_0(facts: str,
                                                                        tmp_path: Path) -> None:
    from core import hours as hrs
    from store import open_store
    from store.models import Account, Outbox, Site, SyncRun

    run = site_on(tmp_path, facts)
    daemon = Daemon(run.db)
    try:
        daemon.wait_for(r"kids: run 1\b")
        store = open_store(run.db)
        try:
            assert SyncRun.select().count() == 1
            site = Site.get(Site.name == "kids")
            Site.update(hour_sync=True).execute()  # new sites start with hour syncing off
            email = Account.select().where(Account.person_id.is_null(False)).first().email
            entry = hrs.add_entry(site, email=email, day="2024-03-04", hours="2",
                                  description="library", approved_by="Ms Admin")
        finally:
            store.close()
        daemon.wait_for(r"kids: write-back: created 1")
        status = run.json("status", "--all")
        (beat,) = status["daemons"]
        assert str(daemon.proc.pid) in beat["holder"]
        (one,) = status["sites"]
        assert one["nextRun"] and one["lastRuns"]["sync"]["exitCode"] in (0, 3)
        assert one["lastRuns"]["writeback"]["exitCode"] == 0
    finally:
        code = daemon.terminate()
    assert code == 0 and daemon.lines[-1].endswith("stopped")
    store = open_store(run.db)
    try:
        assert Outbox.get(Outbox.entry == entry.id).state == "sent"
    finally:
        store.close()
    assert run.json("status", "--all")["daemons"] == []


@pytest.mark.parametrize("facts", [(1500, 0)], indirect=True)
@pytest.mark.parametrize("delay", [0.3, 1.5])
def test_sigterm_mid_run_leaves_the_store_as_before_or_after(facts: str, tmp_path: Path,
                                                            delay: float) -> None:
    from store import open_store
    from store.models import Account, SyncRun

    run = site_on(tmp_path, facts, schedule="* * * * * *")
    daemon = Daemon(run.db)
    try:
        daemon.wait_for("scheduled sync .* starts")
        time.sleep(delay)
    finally:
        code = daemon.terminate()
    assert code == 0, "\n".join(daemon.lines)
    store = open_store(run.db)
    try:
        runs = list(SyncRun.select())
        accounts = Account.select().count()
        if not runs:
            assert accounts == 0  # stopped before the transaction: as before
        else:
            import json

            (only,) = runs  # stopped after it: the whole run, journaled
            assert only.finished_at is not None
            assert accounts == json.loads(only.counts)["added"] > 0
    finally:
        store.close()


SPAN = re.compile(r"^(\S+ \S+) kids: scheduled sync .*(starts|ends)")


def spans(lines: list[str]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    start: datetime | None = None
    for line in lines:
        m = SPAN.match(line)
        if not m:
            continue
        at = datetime.fromisoformat(m.group(1))
        if m.group(2) == "starts":
            start = at
        elif start is not None:
            out.append((start, at))
            start = None
    return out


@pytest.mark.parametrize("facts", [(60, 150)], indirect=True)
def test_two_daemons_never_sync_one_site_at_once(facts: str, tmp_path: Path) -> None:
    run = site_on(tmp_path, facts, schedule="* * * * * *")
    first, second = Daemon(run.db), Daemon(run.db)
    try:
        time.sleep(5)
    finally:
        codes = (first.terminate(), second.terminate())
    assert codes == (0, 0), "\n".join(first.lines + ["---"] + second.lines)
    every = sorted(spans(first.lines) + spans(second.lines))
    assert len(every) >= 3, "\n".join(first.lines + second.lines)
    for (_, end), (start, _) in zip(every, every[1:], strict=False):
        assert end <= start, "two syncs of one site overlapped:\n" + "\n".join(
            first.lines + ["---"] + second.lines)
