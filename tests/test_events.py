"""Who did what (issue 11 §5): every run, decision, setup change, grouping, merge, undo, hold
approval and rejection and hour-syncing switch records its actor and time as an event; runs
recorded before actors were show as "unknown"; ``history --events`` lists them.

Outcomes are rows in the store and what the CLI prints; the actor is the OS user (the suite acts
as ``tester``) or the serve login of the session (``FACTSYNC_SERVE_LOGIN``).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from core import accounts as acc
from core import site_settings
from core.actor import SERVE_LOGIN_ENV
from core.cli import cli
from core.events import site_events
from core.sites import add_site
from core.sync import service
from core.writeback.switch import set_hour_sync
from store import open_store
from store.models import Event, SyncRun
from tests.conftest import TEST_USER
from tests.sync_support import Env, make_env
from tests.test_cli_sync import Run
from tests.test_sync_rules import school


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return make_env(tmp_path, school())


def trail(env: Env) -> list[tuple[str, str | None, str | None, str]]:
    """(action, actor, via, summary) of the site's events, oldest first."""
    return [(e.action, e.actor, e.via, e.summary)
            for e in reversed(site_events(env.store, env.site))]


async def test_every_kind_of_change_records_its_actor(env: Env) -> None:
    await env.sync()
    service.decide(env.store, env.site, email="ann@lee.org", skip=True)
    service.undo_decision(env.store, env.site)
    service.group_families(env.store, env.site, [10, 20])
    service.set_override(env.store, env.site, 10, 2, False)
    service.save_setup(env.store, env.site, grades=["05", "07"])
    acc.add_account(env.site, email="ann.home@lee.org", first_name="Ann", last_name="Lee")
    acc.merge_accounts(env.store, env.site, keep="ann@lee.org", absorb="ann.home@lee.org")
    service.undo(env.store, env.site)
    set_hour_sync(env.store, env.site, True)
    site_settings.pause(env.store, env.site, None, "year-end rollover")
    site_settings.resume(env.store, env.site)
    site_settings.set_threshold(env.store, env.site, "30%")

    events = trail(env)
    assert {(actor, via) for _, actor, via, _ in events} == {(TEST_USER, "os")}
    assert [a for a, *_ in events] == [
        "site-add", "connect", "setup", "sync", "decision", "decision", "family-group", "setup",
        "setup", "merge", "undo", "hour-sync", "options", "options", "options"]
    words = {a: s for a, _, _, s in events}
    assert words["site-add"] == "site added (advanced plan)"
    assert "school API key ••••" in words["connect"] and "sandbox" not in words["connect"]
    assert words["sync"].startswith("sync run 1: added ")
    assert words["family-group"] == "families 10, 20 grouped as one household"
    assert words["setup"] == "setup: grades all → 05, 07"
    assert words["merge"] == ("merge run 2: ann.home@lee.org absorbed into ann@lee.org, "
                              "0 hour entries moved")
    assert words["undo"] == "undo run 3: reverted run 2"
    assert words["hour-sync"] == "hour syncing on"
    assert [s for a, _, _, s in events if a == "decision"] == [
        "skipped email ann@lee.org", "took back: skipped email ann@lee.org"]
    # each run's event points at it: history gives every run its actor
    runs = service.history(env.store, env.site)
    assert [(r.number, r.kind, r.actor) for r in runs] == [
        (3, "undo", TEST_USER), (2, "merge", TEST_USER), (1, "sync", TEST_USER)]


async def test_a_setup_saved_unchanged_and_a_switch_left_as_it_was_record_nothing(
        env: Env) -> None:
    before = Event.select().count()
    service.save_setup(env.store, env.site, kind="parents")
    set_hour_sync(env.store, env.site, False)  # already off
    assert not site_settings.resume(env.store, env.site)  # not paused
    assert Event.select().count() == before


async def test_the_serve_login_of_the_session_is_the_actor(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SERVE_LOGIN_ENV, "bob")
    await env.sync()
    hold_env = env.edit()
    hold_env["students"] = []
    env.serve(hold_env)
    held = await env.sync()
    assert held.hold is not None
    service.reject_hold(env.store, env.site, held.hold.id, by="bob")
    (sync, reject) = [e for e in site_events(env.store, env.site)
                      if e.action in ("sync", "hold-reject")][::-1]
    assert (sync.actor, sync.via, reject.actor, reject.via) == ("bob", "serve", "bob", "serve")
    assert sync.who == "bob (browser login)"
    assert reject.summary == f"rejected hold {held.hold.id}: 6 archives not made"


async def test_an_approved_hold_is_one_event_with_its_run(env: Env) -> None:
    await env.sync()
    tables = env.edit()
    tables["students"] = []
    env.serve(tables)
    held = await env.sync()
    assert held.hold is not None
    run = await service.approve_hold(env.store, env.site, held.hold.id, by=TEST_USER,
                                     transport=env.sandbox.transport())
    (event,) = [e for e in site_events(env.store, env.site) if e.run == run.number]
    assert (event.action, event.actor) == ("hold-approve", TEST_USER)
    assert event.summary == f"approved hold {held.hold.id}: run {run.number} archived 6"


def test_runs_from_before_actors_get_an_unknown_event(tmp_path: Path) -> None:
    """A store of schema 4 with two runs: the migration gives each an event without actor."""
    db = tmp_path / "old.db"
    store = open_store(db)
    site = add_site(store, "pta")
    SyncRun.create(site=site, kind="sync", counts=json.dumps({"added": 3}))
    SyncRun.create(site=site, kind="merge", counts="{}")
    store.close()
    raw = sqlite3.connect(db)
    raw.execute("DROP TABLE event")
    raw.execute("DELETE FROM schema_version WHERE version >= 5")
    raw.commit()
    raw.close()
    store = open_store(db)
    store = open_store(db)  # twice: the step is idempotent, each run keeps one event
    events = site_events(store, site)
    assert [(e.action, e.actor, e.run, e.summary) for e in events] == [
        ("merge", None, 2, "merge run 2"), ("sync", None, 1, "sync run 1")]
    assert {e.who for e in events} == {"unknown"}
    assert [(r.actor, r.by) for r in service.history(store, site)] == [(None, "unknown")] * 2
    out = CliRunner().invoke(cli, ["history", "pta", "--db", str(db)])
    assert out.exit_code == 0 and out.output.count("by unknown") == 2
    store.close()


def test_history_events_on_the_command_line(tmp_path: Path) -> None:
    run = Run(tmp_path)
    run("site", "add", "kids")
    run("setup", "kids", "--kind", "students", "--grade", "05")
    run("pause", "kids", "--reason", "year-end")
    listed = json.loads(run("history", "kids", "--events", "--json").stdout)
    assert [e["action"] for e in listed] == ["options", "setup", "site-add"]  # newest first
    first = listed[-1]
    assert set(first) >= {"id", "at", "actor", "via", "host", "action", "summary", "run",
                          "accountId"}
    assert (first["actor"], first["via"]) == (TEST_USER, "os")
    text = run("history", "kids", "--events").stdout.splitlines()
    assert len(text) == 3 and "options" in text[0] and "paused until resumed: year-end" in text[0]
    assert f"{TEST_USER}@" in text[0]
    assert "use one of --run and --events" in run("history", "kids", "--events", "--run", "1",
                                                  code=2).output
