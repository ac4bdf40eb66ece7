"""The one contract of every command (issue 10 §1, §4): exit codes, --json bodies, global options
before and after the subcommand, --timeout, confirmations without a terminal, keys checked before
they are saved. Against the in-process sandbox, and real sockets for an unreachable FACTS."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from core.cli import cli
from core.facts.plans import SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY
from store.models import Connection

KEYS = {"FACTSYNC_SUBSCRIPTION_KEY": SANDBOX_SUBSCRIPTION_KEY, "FACTSYNC_API_KEY": SANDBOX_API_KEY}


class Run:
    def __init__(self, tmp: Path) -> None:
        self.db = str(tmp / "s.db")

    def raw(self, *args: str, env: dict[str, str] | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), env={**KEYS, **(env or {})})

    def __call__(self, *args: str, code: int = 0, env: dict[str, str] | None = None) -> Result:
        result = self.raw(*args, "--db", self.db, env=env)
        assert result.exit_code == code, f"{args}: {result.exit_code} {result.output}"
        assert SANDBOX_API_KEY not in result.output
        return result

    def json(self, *args: str, code: int = 0) -> Any:
        return json.loads(self(*args, "--json", code=code).stdout)


@pytest.fixture
def run(tmp_path: Path) -> Run:
    r = Run(tmp_path)
    r("site", "add", "kids")
    r("connect", "kids", "--base-url", "sandbox:?families=25&seed=2")
    r("setup", "kids", "--kind", "students")
    return r


def dump(path: str) -> list[str]:
    con = sqlite3.connect(path)
    try:
        return list(con.iterdump())
    finally:
        con.close()


def test_global_options_go_before_or_after_the_subcommand(run: Run) -> None:
    before = run.raw("--db", run.db, "--json", "status", "kids")
    after = run.raw("status", "kids", "--db", run.db, "--json")
    assert before.exit_code == after.exit_code == 0
    assert json.loads(before.stdout)["site"] == json.loads(after.stdout)["site"] == "kids"
    # every command takes --json, even one that prints no JSON of its own
    assert run.raw("--db", run.db, "--json", "family", "group", "kids", "1").exit_code == 2
    out = run.raw("--json", "--timeout", "5", "--db", run.db, "decisions", "kids")
    assert out.exit_code == 0 and json.loads(out.stdout) == []
    added = run.json("accounts", "add", "kids", "--email", "coach@school.org", "--first", "Co",
                     "--last", "Ach")
    assert added == {"output": ["account coach@school.org added"]}


def test_json_errors_are_one_body_on_stdout_with_the_exit_code(run: Run) -> None:
    missing = run.raw("--db", run.db, "--json", "sync", "nope")
    assert missing.exit_code == 1
    body = json.loads(missing.stdout)
    assert body["error"]["code"] == "siteError" and "no site named 'nope'" in body["error"]["message"]
    usage = run.raw("sync", "kids", "--bogus", "--json", "--db", run.db)
    assert usage.exit_code == 2 and json.loads(usage.stdout)["error"]["code"] == "usage"
    run("site", "add", "free", "--plan", "basic")
    plan = json.loads(run("sync", "free", "--json", code=1).stdout)
    assert plan["error"]["code"] == "planRequired"
    text = run("sync", "nope", code=1)
    assert text.stdout == "" and text.stderr.startswith("error: no site named 'nope'")


def test_exit_codes_of_sync(run: Run) -> None:
    first = run.json("sync", "kids", code=3)  # a first sync: every conflict is new
    assert first["newConflicts"] > 0 and first["attention"]
    quiet = run("sync", "kids")  # the same conflicts again: nothing new waits
    lines = quiet.stdout.splitlines()
    assert len(lines) <= 4 and "factsync conflicts 'kids'" in quiet.stdout
    assert "[red]" not in quiet.stdout and "[orange]" not in quiet.stdout  # no conflict lines
    listed = run.json("conflicts", "kids")
    assert listed["open"] == first["counts"]["conflicts"] and listed["new"] == 0
    assert run.json("conflicts", "kids", "--new")["conflicts"] == []
    assert all(c["choices"] for c in listed["conflicts"])


def test_decisions_are_for_people_in_the_roster_and_can_be_cleared(run: Run) -> None:
    run.json("sync", "kids", code=3)
    c = next(c for c in run.json("conflicts", "kids")["conflicts"]
             if c["kind"] == "missing-email")
    pid = str(c["people"][0]["personId"])
    assert "not in the FACTS roster" in run("decide", "kids", "--person", "7777777", "--skip",
                                            code=1).stderr
    assert "has the email" in run("decide", "kids", "--email", "nobody@nowhere.org", "--skip",
                                  code=1).stderr
    run("decide", "kids", "--person", pid, "--skip")
    (saved,) = run.json("decisions", "kids")
    assert saved["action"] == "skip" and saved["personId"] == int(pid)
    run("decide", "kids", "--person", pid, "--clear", code=3)  # asks first: no terminal
    assert len(run.json("decisions", "kids")) == 1
    assert "removed: skipped person" in run("decide", "kids", "--person", pid, "--clear",
                                            "--yes").stdout
    assert run.json("decisions", "kids") == []


def test_undo_without_a_terminal_and_without_yes_leaves_the_store_byte_identical(run: Run) -> None:
    run("sync", "kids", code=3)
    before = dump(run.db)
    refused = run("undo", "kids", code=3)
    assert "revert sync run 1 of" in refused.stderr and "added → removed" in refused.stderr
    assert "--yes" in refused.stderr
    assert dump(run.db) == before
    done = run.json("undo", "kids", "--yes")
    assert done["reverted"] == 1 and done["undoRun"] == 2


def test_undo_after_a_setup_change_offers_the_setup_before_it(run: Run) -> None:
    run("sync", "kids", code=3)
    grades = [g["value"] for g in run.json("setup", "kids", "--options")["grades"]]
    run("setup", "kids", "--grade", grades[0])
    run("sync", "kids", "--confirm-archive", code=0)
    preview = run("undo", "kids", code=3).stderr
    assert "revert sync run 2" in preview
    kept = run.json("undo", "kids", "--yes")  # headless: the setup stays unless asked
    assert kept["setupRestored"] is False and kept["setupChanges"] == [f"grades {grades[0]} → all"]
    assert run.json("setup", "kids")["criteria"]["grades"] == [grades[0]]
    run("sync", "kids", "--confirm-archive")
    restored = run.json("undo", "kids", "--yes", "--restore-setup")
    assert restored["setupRestored"] is True
    assert run.json("setup", "kids")["criteria"]["grades"] == []


def test_merge_asks_first(run: Run) -> None:
    run("sync", "kids", code=3)
    a, b = (x["email"] for x in run.json("accounts", "kids")[:2])
    before = dump(run.db)
    assert "not done without a confirmation" in run("merge", "kids", "--keep", a, "--absorb", b,
                                                    code=3).stderr
    assert dump(run.db) == before
    body = json.loads(run("merge", "kids", "--keep", a, "--absorb", b, "--json", code=3).stdout)
    assert body["error"]["code"] == "confirmationNeeded"
    run("merge", "kids", "--keep", a, "--absorb", b, "--yes")


def test_connect_with_a_bad_key_keeps_the_good_one(run: Run) -> None:
    before = run.json("status", "kids")["connection"]
    assert before["peopleRead"] is True and before["peopleWrite"] is True
    bad = run("connect", "kids", "--base-url", "sandbox:?families=25&seed=2", code=1,
              env={"FACTSYNC_API_KEY": "WrongKey-0000"})
    assert "did not pass the check" in bad.stderr and "stay in use" in bad.stderr
    assert "0000" not in bad.output.replace("WrongKey-0000", "")  # the key is never echoed
    after = run.json("status", "kids")["connection"]
    assert (after["peopleRead"], after["peopleWrite"]) == (True, True)
    assert after["checkedAt"] == before["checkedAt"]
    run("sync", "kids", code=3)  # the working key still syncs
    saved = run("connect", "kids", "--base-url", "sandbox:?families=25&seed=2", "--force",
                env={"FACTSYNC_API_KEY": "WrongKey-0000"})
    assert "unchecked" in saved.stdout
    assert run.json("status", "kids")["connection"]["peopleRead"] is None


# --- an unreachable FACTS ends within --timeout -----------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                accepted.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join(2)
        for c in accepted:
            c.close()
        server.close()


def _point_at(run: Run, url: str) -> None:
    from store import open_store

    store = open_store(run.db)
    try:
        Connection.update(base_url=url).execute()
    finally:
        store.close()


@pytest.mark.parametrize("where", ["refused", "silent"])
def test_an_unreachable_facts_ends_within_the_timeout(run: Run, black_hole: int,
                                                      where: str) -> None:
    run("sync", "kids", code=3)
    port = _closed_port() if where == "refused" else black_hole
    _point_at(run, f"http://127.0.0.1:{port}")
    started = time.monotonic()
    out = run.raw("--timeout", "2", "--json", "sync", "kids", "--db", run.db)
    took = time.monotonic() - started
    assert out.exit_code == 1 and took < 6, (took, out.output)
    error = json.loads(out.stdout)["error"]
    assert error["code"] == "factsUnreachable" and "unreachable" in error["message"]


def test_writeback_against_an_unreachable_facts_ends_within_the_timeout(run: Run) -> None:
    from core import hours as hrs
    from store import open_store
    from store.models import Account, Site

    run("sync", "kids", code=3)
    store = open_store(run.db)
    try:
        site = Site.get(Site.name == "kids")
        Site.update(hour_sync=True).execute()  # new sites start with hour syncing off (issue 9)
        email = Account.select().where(Account.person_id.is_null(False)).first().email
        hrs.add_entry(site, email=email, day="2024-03-04", hours="2", description="library",
                      approved_by="Ms Admin")
        Connection.update(base_url=f"http://127.0.0.1:{_closed_port()}").execute()
    finally:
        store.close()
    started = time.monotonic()
    out = run.raw("writeback", "kids", "--json", "--timeout", "2", "--db", run.db)
    took = time.monotonic() - started
    assert out.exit_code == 1 and took < 8, (took, out.output)
    body = json.loads(out.stdout)
    assert body["error"]["code"] == "factsUnreachable" and body["retrying"] == 1


def test_pause_and_resume(run: Run) -> None:
    run("sync", "kids", code=3)
    run("pause", "kids", "--until", "2999-01-01", code=2)  # --reason is required
    run("pause", "kids", "--until", "2999-01-01", "--reason", "year-end rollover")
    paused = run("sync", "kids")
    assert "paused until 2999-01-01" in paused.stdout and "year-end rollover" in paused.stdout
    status = run.json("status", "kids")
    assert status["paused"]["reason"] == "year-end rollover"
    assert "PAUSED" in run("status", "--all").stdout
    run("resume", "kids")
    assert run.json("status", "kids")["paused"] is None


def test_archive_threshold_and_schedule_are_per_site(run: Run) -> None:
    assert "write a share such as 20%" in run("setup", "kids", "--archive-threshold", "lots",
                                              code=1).stderr
    assert "not a cron expression" in run("setup", "kids", "--schedule", "nightly",
                                          code=1).stderr
    saved = run.json("setup", "kids", "--archive-threshold", "50", "--schedule", "0 2 * * *")
    assert saved["archiveThreshold"] == "50" and saved["schedule"] == "0 2 * * *"
    everything = run.json("status", "--all")
    (site,) = everything["sites"]
    assert site["schedule"] == "0 2 * * *" and site["nextRun"] and everything["daemons"] == []


def test_sync_and_writeback_all_run_every_site_and_exit_with_the_worst_code(run: Run) -> None:
    run("site", "add", "teens")
    run("connect", "teens", "--base-url", "sandbox:?families=20&seed=9")
    run("setup", "teens", "--kind", "students")
    run("site", "add", "no-setup")  # no setup, no connection: not part of --all
    first = run.json("sync", "--all", code=3)  # both first syncs: their conflicts are new
    assert [(s["site"], s["exitCode"]) for s in first["sites"]] == [("kids", 3), ("teens", 3)]
    text = run("sync", "--all").stdout
    assert text.count("nothing to change") == 2
    from store import open_store
    from store.models import Site

    store = open_store(run.db)
    try:
        teens = Site.get(Site.name == "teens")
        Connection.update(base_url=f"http://127.0.0.1:{_closed_port()}").where(
            Connection.site == teens).execute()
    finally:
        store.close()
    worst = run.raw("--timeout", "1", "sync", "--all", "--db", run.db)
    assert worst.exit_code == 1
    assert "kids: nothing to change" in worst.stdout and "teens: error: FACTS is unreachable" \
        in worst.stdout
    sent = run.raw("--timeout", "1", "writeback", "--all", "--json", "--db", run.db)
    assert sent.exit_code == 0  # nothing is owed to FACTS: no request is needed
    assert [s["site"] for s in json.loads(sent.stdout)["sites"]] == ["kids", "teens"]
    run("sync", code=2)  # a SITE or --all
