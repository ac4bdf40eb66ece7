"""``factsync writeback`` / ``status`` / ``hours backfill`` end to end on the in-process sandbox.

The site is connected to ``sandbox:?families=40&seed=3``: the CLI builds its own client and the
sandbox keeps written hours in a file beside the store, which these tests read back.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from core import hours as hrs
from core.cli import cli
from core.facts.plans import SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY
from store import Store, open_store
from store.models import Account, Outbox, Site
from tests.test_writeback_support import hour_sync_on, person_ids

ROOT = Path(__file__).resolve().parent.parent
SPEC = "sandbox:?families=40&seed=3"


def invoke(*args: str, db: Path) -> tuple[int, str]:
    env = {"FACTSYNC_SUBSCRIPTION_KEY": SANDBOX_SUBSCRIPTION_KEY, "FACTSYNC_API_KEY": SANDBOX_API_KEY}
    result = CliRunner().invoke(cli, [*args, "--db", str(db)], env=env, catch_exceptions=False)
    return result.exit_code, result.output


def facts_hours(store: Store) -> list[dict[str, Any]]:
    path = store.path.with_name(store.path.name + ".sandbox-hours.json")
    if not path.exists():
        return []
    rows: list[dict[str, Any]] = json.loads(path.read_text())["parents"]
    return rows


def setup_site(tmp_path: Path, *, spec: str = SPEC, accounts: int = 3) -> tuple[Store, Site]:
    db = tmp_path / "s.db"
    store = open_store(db)
    assert invoke("site", "add", "Lincoln", db=db)[0] == 0
    code, out = invoke("connect", "Lincoln", "--base-url", spec, "--facts-plan", "enterprise", db=db)
    assert code == 0, out
    site = Site.get(Site.name == "Lincoln")
    site.kind = "parents"
    site.save()
    hour_sync_on(site)
    for i, pid in enumerate(person_ids()[:accounts]):
        Account.create(site=site, email=f"p{i}@example.org", email_key=f"p{i}@example.org",
                       person_id=pid, origin="sis", first_name=f"P{i}", last_name="Test")
    return store, site


def add(site: Site, i: int, *, approved: bool = True, day: str = "2024-10-01") -> int:
    entry = hrs.add_entry(site, email=f"p{i}@example.org", day=day, hours=1 + i,
                          description=f"Shift {i}", approved_by="Ms. Admin" if approved else None)
    return int(entry.id)


def test_writeback_drains_and_status_reports(tmp_path: Path) -> None:
    store, site = setup_site(tmp_path)
    ids = [add(site, i) for i in range(3)]
    code, out = invoke("status", "Lincoln", "--json", db=store.path)
    before = json.loads(out)
    assert before["outbox"] == {"pending": 3, "unconfirmed": 0, "sent": 0, "failed": 0}
    assert before["writeBack"] == {"enabled": True, "reason": None}
    assert before["connection"]["peopleWrite"] is True
    code, out = invoke("writeback", "Lincoln", db=store.path)
    assert code == 0 and "created 3" in out, out
    rows = facts_hours(store)
    assert sorted(r["note"].split()[0] for r in rows) == sorted(
        f"factsync:{site.id}:{i}" for i in ids
    )
    listed = json.loads(invoke("hours", "Lincoln", "--json", db=store.path)[1])
    assert {e["serviceHoursId"] for e in listed} == {r["serviceHoursId"] for r in rows}
    assert {e["writeback"] for e in listed} == {"sent"}
    code, out = invoke("status", "Lincoln", db=store.path)
    assert "write-back: on" in out and "outbox: pending 0, sent 3, failed 0" in out
    # a second run has nothing to do and sends nothing
    code, out = invoke("writeback", "Lincoln", "--json", db=store.path)
    assert code == 0 and json.loads(out)["requests"] == 0


def test_read_only_key_turns_write_back_off_with_the_reason(tmp_path: Path) -> None:
    store, site = setup_site(tmp_path, spec=SPEC + "&people=read")
    add(site, 0)
    code, out = invoke("writeback", "Lincoln", db=store.path)
    assert code == 1
    assert "write-back is off for site 'Lincoln'" in out and "Read-only on People" in out
    code, out = invoke("status", "Lincoln", db=store.path)
    assert "People write: no" in out and "write-back: OFF" in out and "pending 1" in out
    status = json.loads(invoke("status", "Lincoln", "--json", db=store.path)[1])
    assert status["writeBack"]["enabled"] is False
    assert "Read-only" in status["writeBack"]["reason"]
    assert facts_hours(store) == []


def test_failed_entries_are_listed_and_can_be_retried(tmp_path: Path) -> None:
    store, site = setup_site(tmp_path, accounts=2)
    add(site, 0)
    bad = add(site, 1)
    Account.update(person_id=999_999_999).where(Account.email == "p1@example.org").execute()
    code, out = invoke("writeback", "Lincoln", db=store.path)
    # an entry given up waits for a person: attention (3), not an error
    assert code == 3 and "created 1" in out and "failed 1" in out
    code, out = invoke("writeback", "Lincoln", "--failed", db=store.path)
    assert code == 0 and f"entry {bad}" in out and "Person 999999999 does not exist" in out
    failed = json.loads(invoke("writeback", "Lincoln", "--failed", "--json", db=store.path)[1])
    assert [f["entryId"] for f in failed] == [bad]
    status = json.loads(invoke("status", "Lincoln", "--json", db=store.path)[1])
    assert status["outbox"]["failed"] == 1
    assert status["lastWritebackError"]["entryId"] == bad
    Account.update(person_id=person_ids()[1]).where(Account.email == "p1@example.org").execute()
    code, out = invoke("writeback", "Lincoln", "--retry-failed", db=store.path)
    assert code == 0 and "1 failed entries queued again" in out and "created 1" in out
    assert len(facts_hours(store)) == 2
    assert invoke("writeback", "Lincoln", "--failed", db=store.path)[1].strip() == "no failed entries"


def test_backfill_lists_first_then_enqueues(tmp_path: Path) -> None:
    store, site = setup_site(tmp_path, accounts=2)
    Account.update(person_id=None).execute()  # approved before the accounts were linked
    old = add(site, 0, day="2024-01-15")
    new = add(site, 1, day="2024-10-01")
    add(site, 0, approved=False)
    assert Outbox.select().count() == 0
    for i, pid in enumerate(person_ids()[:2]):  # linked without the outbox hearing of it
        Account.update(person_id=pid).where(Account.email == f"p{i}@example.org").execute()
    code, out = invoke("hours", "backfill", "Lincoln", "--dry-run", db=store.path)
    assert code == 0 and "would send 2 entries (3 h) to FACTS" in out
    assert "Shift 0" in out and "Shift 1" in out and Outbox.select().count() == 0
    code, out = invoke("hours", "backfill", "Lincoln", "--since", "2024-06-01", "--json",
                       db=store.path)
    body = json.loads(out)
    assert [e["id"] for e in body["entries"]] == [new] and body["enqueued"] == 1
    code, out = invoke("hours", "backfill", "Lincoln", db=store.path)
    assert code == 0 and "queued 1" in out
    code, out = invoke("hours", "backfill", "Lincoln", db=store.path)
    assert "0 entries" in out
    code, _ = invoke("writeback", "Lincoln", db=store.path)
    assert code == 0 and len(facts_hours(store)) == 2
    assert {o.entry.id for o in Outbox.select()} == {old, new}
    code, _ = invoke("hours", "backfill", "Lincoln", "--since", "yesterday", db=store.path)
    assert code == 2


def test_follow_picks_up_approvals_within_5s_and_stops_on_sigterm(tmp_path: Path) -> None:
    store, site = setup_site(tmp_path)
    first = add(site, 0)
    env = {**os.environ, "FACTSYNC_DB": str(store.path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from core.cli import main; main()", "writeback", "Lincoln",
         "--follow"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        def wait_sent(entry_id: int, limit: float) -> float:
            started = time.monotonic()
            while Outbox.get(Outbox.entry == entry_id).state != "sent":
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() - started < limit, f"entry {entry_id} not sent in {limit}s"
                time.sleep(0.05)
            return time.monotonic() - started

        wait_sent(first, 15)  # includes the interpreter start
        second = add(site, 1)
        assert wait_sent(second, 5.0) < 5.0
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert b"following" in out
    assert Outbox.select().where(Outbox.claimed_by.is_null(False)).count() == 0
    assert len(facts_hours(store)) == 2


@pytest.mark.parametrize("args", [["hours", "Lincoln"], ["hours", "list", "Lincoln", "--json"]])
def test_hours_listing_and_subcommands_share_the_group(tmp_path: Path, args: list[str]) -> None:
    store, site = setup_site(tmp_path)
    add(site, 0)
    code, out = invoke(*args, db=store.path)
    assert code == 0 and "Shift 0" in out
    result = CliRunner().invoke(cli, ["hours", "--help"])
    assert result.exit_code == 0 and "backfill" in result.output and "import" in result.output
    code, out = invoke("hours", "--json", "Lincoln", db=store.path)
    assert code == 0 and json.loads(out)[0]["description"] == "Shift 0"


def test_status_and_writeback_of_a_site_not_connected(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    open_store(db)
    invoke("site", "add", "Solo", db=db)
    status = json.loads(invoke("status", "Solo", "--json", db=db)[1])
    assert status["connection"]["connected"] is False
    assert status["writeBack"] == {"enabled": False, "reason": "not connected to FACTS"}
    assert status["lastWritebackError"] is None and status["lastSyncAt"] is None
    code, out = invoke("writeback", "Solo", db=db)
    assert code == 1 and "not connected to FACTS yet" in out
