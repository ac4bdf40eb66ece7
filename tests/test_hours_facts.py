"""Hours FACTS already holds: the hour-syncing switch, pull, dry-run counts, and the audit."""

from __future__ import annotations

import csv
import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from core import hours as hrs
from core.cli import cli
from core.connection import sandbox_for
from core.facts.plans import SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY
from core.facts.sandbox import Sandbox
from core.sites import add_site
from core.writeback.audit import audit
from core.writeback.pull import pull
from core.writeback.switch import hour_sync_preview, owed_entries, set_hour_sync
from store import open_store
from store.models import Account, HourEntry, Outbox, Site
from tests.test_writeback_cli import SPEC, add, setup_site
from tests.test_writeback_support import (
    approved_entries,
    make_client,
    make_env,
    make_sandbox,
    person_ids,
    worker,
)
from tests.test_writeback_witness import post_by_hand


def invoke(*args: str, db: Path) -> tuple[int, str]:
    env = {"FACTSYNC_SUBSCRIPTION_KEY": SANDBOX_SUBSCRIPTION_KEY, "FACTSYNC_API_KEY": SANDBOX_API_KEY}
    result = CliRunner().invoke(cli, [*args, "--db", str(db)], env=env, catch_exceptions=False)
    return result.exit_code, result.output


def cli_sandbox(db: Path) -> Sandbox:
    """The in-process sandbox a CLI run on this store talks to (hours kept beside the store)."""
    sb = sandbox_for(SPEC, str(db.with_name(db.name + ".sandbox-hours.json")))
    assert isinstance(sb, Sandbox)
    return sb


def day(n: int) -> dt.date:
    return dt.date(2024, 10, 1) + dt.timedelta(days=n)


# --- the switch -----------------------------------------------------------------------------


def test_new_sites_start_off_and_sites_from_before_keep_syncing(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    store = open_store(db)
    old = add_site(store, "Old school")
    assert old.hour_sync is False  # a new site sends nothing until the admin turns it on
    store.close()
    # a store from before the switch existed: v1 without the column
    raw = sqlite3.connect(db)
    raw.execute("ALTER TABLE site DROP COLUMN hour_sync")
    raw.execute("DELETE FROM schema_version WHERE version > 1")
    raw.commit()
    raw.close()
    store = open_store(db)
    assert Site.get(Site.name == "Old school").hour_sync is True  # kept syncing on
    assert add_site(store, "New school").hour_sync is False
    store.close()
    open_store(db)  # idempotent: migrating again changes nothing
    assert Site.get(Site.name == "Old school").hour_sync is True


async def test_worker_sends_nothing_while_hour_syncing_is_off(tmp_path: Path) -> None:
    env = make_env(tmp_path, accounts=2)
    set_hour_sync(env.store, env.site, False)
    approved_entries(env, 3)  # approvals still queue
    sb = make_sandbox()
    async with make_client(sb.transport()) as client:
        report = await worker(env, client).drain()
    assert report.disabled and "hour syncing is off" in report.disabled
    assert sb.count() == 0 and owed_entries(env.site) == 3


async def test_preview_counts_to_send_in_facts_and_conflicts(tmp_path: Path) -> None:
    env = make_env(tmp_path, accounts=3)
    set_hour_sync(env.store, env.site, False)
    pids = person_ids()[:3]
    sb = make_sandbox()
    await post_by_hand(sb, [(pids[0], day(0), 2.0, "Book fair"), (pids[1], day(1), 5.0, "Gala")])
    for i, (hours, text) in enumerate([(2, "book fair"), (1.5, "Gala"), (3, "Car wash")]):
        hrs.add_entry(env.site, email=f"user{i}@example.org", day=day(i), hours=hours,
                      description=text, approved_by="Ms. Admin")
    sb.clear_requests()
    preview = await hour_sync_preview(env.store, env.site, transport=sb.transport())
    assert (preview.to_send, preview.forecast.in_facts, len(preview.forecast.conflicts)) == (2, 1, 1)
    assert preview.forecast.conflicts[0].facts_hours == 5.0
    assert sb.count("POST") == 0 and sb.count("GET") == 1  # one read for three people
    set_hour_sync(env.store, env.site, True)
    async with make_client(sb.transport()) as client:
        report = await worker(env, client).drain()
    assert (report.adopted, report.created) == (1, 2)  # what the preview said
    assert len(sb.service_hours("parents")) == 4


def test_cli_syncing_on_shows_the_preview_and_needs_yes_headless(tmp_path: Path) -> None:
    store, site = setup_site(tmp_path)
    set_hour_sync(store, site, False)
    add(site, 0)
    add(site, 1)
    code, out = invoke("hours", "syncing", "Lincoln", "on", db=store.path)
    assert code == 3 and "2 approved entries to send, 0 already in FACTS" in out
    assert "--yes" in out and Site.get_by_id(site.id).hour_sync is False
    code, out = invoke("status", "Lincoln", db=store.path)
    assert "hour syncing: off" in out
    assert json.loads(invoke("status", "Lincoln", "--json", db=store.path)[1])["hourSync"] == "off"
    code, out = invoke("writeback", "Lincoln", db=store.path)
    assert code == 0 and "hour syncing is off" in out
    code, out = invoke("hours", "syncing", "Lincoln", "on", "--yes", "--json", db=store.path)
    body = json.loads(out)
    assert code == 0 and body["hourSync"] == "on" and body["toSend"] == 2 and body["changed"]
    assert json.loads(invoke("status", "Lincoln", "--json", db=store.path)[1])["hourSync"] == "on"
    assert invoke("writeback", "Lincoln", db=store.path)[0] == 0
    assert len(cli_sandbox(store.path).service_hours("parents")) == 2
    code, out = invoke("hours", "syncing", "Lincoln", "off", db=store.path)
    assert code == 0 and Site.get_by_id(site.id).hour_sync is False


# --- pull -----------------------------------------------------------------------------------


async def test_pull_imports_facts_rows_once_and_ties_queued_entries(tmp_path: Path) -> None:
    env = make_env(tmp_path, accounts=3)
    pids = person_ids()[:3]
    sb = make_sandbox()
    await post_by_hand(sb, [
        (pids[0], day(0), 2.0, "Book fair"),
        (pids[1], day(1), 1.0, "Gala"),      # the same as a queued entry below
        (pids[2], day(2), 0.0, "Cancelled"),  # counts nothing
        (pids[2], dt.date(2023, 1, 5), 4.0, "Last year"),
        (person_ids()[7], day(3), 1.0, "Not ours"),  # no account here: never read
    ])
    queued = hrs.add_entry(env.site, email="user1@example.org", day=day(1), hours=1,
                           description="gala", approved_by="x")
    dry = await pull(env.store, env.site, dry_run=True, transport=sb.transport())
    assert (len(dry.imported), dry.tied) == (2, 1) and HourEntry.select().count() == 1
    result = await pull(env.store, env.site, since=dt.date(2024, 1, 1), transport=sb.transport())
    assert (len(result.imported), result.tied, result.rows_read) == (1, 1, 4)
    assert [s.reason for s in result.skipped] == ["counts no hours"]
    pulled = HourEntry.get_by_id(result.imported[0])
    assert (pulled.status, pulled.hours, pulled.description, pulled.approved_by) == (
        "approved", 2.0, "Book fair", "FACTS")
    assert Outbox.get(Outbox.entry == queued.id).state == "sent"  # tied, not posted
    again = await pull(env.store, env.site, since=dt.date(2024, 1, 1), transport=sb.transport())
    assert again.imported == [] and again.tied == 0 and again.already == 2
    sb.clear_requests()
    async with make_client(sb.transport()) as client:
        await worker(env, client).drain()
    assert sb.count("POST") == 0  # nothing pulled or tied is ever sent
    # an edit of a pulled entry goes to its FACTS row
    hrs.edit_entry(env.site, pulled.id, hours="2.5")
    async with make_client(sb.transport()) as client:
        await worker(env, client).drain()
    assert sb.count("POST") == 0 and sb.count("PATCH") == 1
    assert (await audit(env.store, env.site, transport=sb.transport())).agrees


def test_cli_pull_json(tmp_path: Path) -> None:
    store, site = setup_site(tmp_path)
    code, out = invoke("hours", "pull", "Lincoln", "--json", db=store.path)
    assert code == 0
    assert set(json.loads(out)) >= {"dryRun", "rowsRead", "imported", "entryIds", "tied",
                                    "skipped"}


# --- dry-run counts -------------------------------------------------------------------------


def test_import_and_backfill_dry_run_say_new_in_facts_and_conflicting(tmp_path: Path) -> None:
    import asyncio

    store, site = setup_site(tmp_path)
    sb = cli_sandbox(store.path)
    pids = person_ids()[:3]
    asyncio.run(post_by_hand(sb, [(pids[0], day(0), 2.0, "Book fair"),
                                  (pids[1], day(1), 9.0, "Gala")]))
    text = ("email,date,hours,description,status\n"
            f"p0@example.org,{day(0)},2,book fair,approved\n"
            f"p1@example.org,{day(1)},1,Gala,approved\n"
            f"p2@example.org,{day(2)},3,Car wash,approved\n"
            f"p2@example.org,{day(3)},3,Car wash,pending\n")
    path = tmp_path / "h.csv"
    path.write_text(text, encoding="utf-8")
    code, out = invoke("hours", "import", "Lincoln", str(path), "--dry-run", db=store.path)
    assert code == 0, out
    assert ("would import 4 entries (nothing imported): 1 new to FACTS (would be sent), "
            "1 already in FACTS (adopted, not sent again), 1 conflicting") in out
    assert "1 not for FACTS" in out and HourEntry.select().count() == 0
    body = json.loads(invoke("hours", "import", "Lincoln", str(path), "--dry-run", "--json",
                             db=store.path)[1])
    assert body["facts"]["new"] == 1 and body["facts"]["inFacts"] == 1
    assert body["facts"]["conflicting"] == 1 and body["imported"] == 0
    # the same three as approved entries of accounts linked without the outbox hearing of it
    Account.update(person_id=None).execute()
    hrs.import_csv(site, text, approved_by="x")
    for i, pid in enumerate(pids):
        Account.update(person_id=pid).where(Account.email == f"p{i}@example.org").execute()
    code, out = invoke("hours", "backfill", "Lincoln", "--dry-run", db=store.path)
    assert code == 0 and "would send 3 entries" in out
    assert "1 new to FACTS" in out and "1 already in FACTS" in out and "1 conflicting" in out


# --- audit ----------------------------------------------------------------------------------


async def test_audit_lists_each_difference_and_exits_3(tmp_path: Path) -> None:
    env = make_env(tmp_path, accounts=5)
    entries = approved_entries(env, 5)
    sb = make_sandbox()
    async with make_client(sb.transport()) as client:
        await worker(env, client).drain()
    report = await audit(env.store, env.site, transport=sb.transport())
    assert report.agrees and report.agreeing == 5 and report.rows_read == 5
    rows = {r["note"].split()[0]: r for r in sb.service_hours("parents")}
    ref = f"factsync:{env.site.id}:"
    # FACTS is changed behind factsync's back, and the store forgets a withdrawal
    with sb.lock:
        sb.hours.replace("parents", {**rows[f"{ref}{entries[0].id}"], "hours": 9.0})
    HourEntry.update(status="rejected").where(HourEntry.id == entries[1].id).execute()
    pid = env.accounts[2].person_id
    await post_by_hand(sb, [(pid, entries[2].date, 1.0, "copy")])  # becomes a duplicate:
    with sb.lock:
        sb.hours.rows["parents"][-1]["note"] = f"{ref}{entries[2].id} a second copy"
        sb.hours.rows["parents"].append({**rows[f"{ref}{entries[3].id}"], "serviceHoursId": 900,
                                         "note": f"{ref}424242 an old install"})
        sb.hours.by_id["parents"][900] = sb.hours.rows["parents"][-1]
    Outbox.update(service_hours_id=777).where(Outbox.entry == entries[4].id).execute()
    report = await audit(env.store, env.site, transport=sb.transport())
    assert not report.agrees
    assert report.counts() == {"differs": 1, "withdrawn-counted": 1, "duplicate": 1,
                               "unknown-row": 1, "missing": 1}
    lines = [d.line() for d in report.differences]
    assert any("9.0 h, the entry" in line for line in lines)
    text = report.csv_text()
    parsed = list(csv.DictReader(text.splitlines()))
    assert {p["kind"] for p in parsed} == set(report.counts())


def test_cli_audit_exit_codes_json_and_csv(tmp_path: Path) -> None:
    store, site = setup_site(tmp_path)
    add(site, 0)
    add(site, 1)
    assert invoke("writeback", "Lincoln", db=store.path)[0] == 0
    code, out = invoke("writeback", "audit", "Lincoln", db=store.path)
    assert code == 0 and "the store and FACTS agree" in out
    HourEntry.update(status="rejected").execute()  # the store changes without telling FACTS
    csv_path = tmp_path / "audit.csv"
    code, out = invoke("writeback", "audit", "Lincoln", "--json", "--csv", str(csv_path),
                       db=store.path)
    body: dict[str, Any] = json.loads(out)
    assert code == 3 and body["agrees"] is False and body["counts"] == {"withdrawn-counted": 2}
    assert csv_path.read_text().splitlines()[0].startswith("kind,entryId,email,personId")
    assert len(csv_path.read_text().splitlines()) == 3
