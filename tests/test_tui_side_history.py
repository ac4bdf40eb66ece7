"""History screen: runs, the changes of the highlighted run, undo the latest with a confirm."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.accounts import merge_accounts
from core.sync.journal import account_values, snapshot
from store.models import Account, HourEntry, SyncChange, SyncRun
from tests.conftest import (
    MARKUP_NAME,
    Env,
    StepApp,
    account,
    fix_run_times,
    hours,
    make_env,
    screen_text,
    settle,
    step_app,
)
from tui.flow import StepId
from tui.screens.history import HistoryScreen, change_summary, counts_summary
from tui.widgets.lazy_table import LazyTable


def populate(tmp_path: Path) -> Env:
    """A hand-journaled sync (one add, one rename), then a merge that moved 2 entries."""
    env = make_env(tmp_path)
    kept = account(env, "ann.lee@example.org", "Ann", "Lee", person_id=1201, family="301")
    account(env, "ann@home.example", "Ann", "Lee")
    added = account(env, "new.parent@example.org", MARKUP_NAME, "Parent", person_id=1300,
                    family="305")
    run = SyncRun.create(site=env.site, kind="sync",
                         counts=json.dumps({"added": 1, "updated": 1, "archived": 0,
                                            "enrolled_students": 40, "open_conflicts": ["x"]}))
    before = account_values(kept)
    before["last_name"] = "Lee-Old"
    SyncChange.create(run=run, account=added, action="add", reason="new in FACTS",
                      after=snapshot(account_values(added)))
    SyncChange.create(run=run, account=kept, action="update", reason="name changed in FACTS",
                      before=snapshot(before), after=snapshot(account_values(kept)))
    hours(env, "ann@home.example", 2.0, "Book fair", approved=True)
    hours(env, "ann@home.example", 1.0, "Bake sale")
    merge_accounts(env.store, env.site, keep="ann.lee@example.org", absorb="ann@home.example")
    fix_run_times()
    return env


def app_for(env: Env) -> StepApp:
    return step_app(env, StepId.HISTORY)


def test_summaries_in_words() -> None:
    assert counts_summary("sync", {"added": 2, "linked": 1, "archived": 0,
                                   "open_conflicts": ["a", "b"]}) == (
        "added 2 · merged by email 1 · open conflicts 2")
    assert counts_summary("undo", {"undid": 4, "changes": 7}) == "undid run 4 (7 changes)"
    assert change_summary("update", {"email": "a@x", "status": "active"},
                          {"email": "a@x", "status": "archived"}) == "status: active → archived"
    assert change_summary("add", None, {"email": "n@x"}) == "new account: n@x"


async def test_changes_of_highlighted_run_and_undo_twice(tmp_path: Path) -> None:
    env = populate(tmp_path)
    app = app_for(env)
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(pilot)
        runs = app.screen.query_one("#history-runs", LazyTable)
        assert runs.row_count == 2
        text = screen_text(app)
        assert "u undoes run 2 (merge)" in text
        assert "Changes of run 2 (merge, by tester): 3" in text  # tests act as OS user tester
        assert "unknown" in text  # run 1 was recorded without an actor
        assert "absorbed ann@home.e" in text
        assert "2 hour entries moved" in text
        await pilot.press("down")
        await settle(pilot)
        text = screen_text(app)
        assert "Changes of run 1 (sync, by unknown): 2" in text
        assert "last_name: Lee-Old → Lee" in text
        assert "new account: new.parent@example.org" in text
        # undo the merge: confirm, the hours go back
        await pilot.press("u")
        await pilot.pause()
        assert "Undo run 2?" in screen_text(app)
        await pilot.press("y")
        await settle(pilot)
        assert "Undid run 2: 3 changes reverted." in screen_text(app)
        home = Account.get(Account.email == "ann@home.example")
        assert home.status == "active"
        assert HourEntry.select().where(HourEntry.account == home).count() == 2
        assert runs.row_count == 3
        # the next undo reverts the sync: its added account (no hours) is deleted
        await pilot.press("u")
        await pilot.pause()
        assert "Undo run 1?" in screen_text(app)
        await pilot.press("y")
        await settle(pilot)
        assert Account.get_or_none(Account.email == "new.parent@example.org") is None
        assert Account.get(Account.email == "ann.lee@example.org").last_name == "Lee-Old"
        # nothing left to undo: the key is dimmed and does nothing
        await pilot.press("u")
        await pilot.pause()
        assert isinstance(app.screen, HistoryScreen)


async def test_no_means_no(tmp_path: Path) -> None:
    env = populate(tmp_path)
    app = app_for(env)
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(pilot)
        await pilot.press("u", "n")
        await settle(pilot)
    assert SyncRun.select().where(SyncRun.undone_at.is_null(False)).count() == 0


def test_snapshot_history_80x24(tmp_path: Path, snap_compare: Any) -> None:
    env = populate(tmp_path)
    assert snap_compare(app_for(env), terminal_size=(80, 24), run_before=settle)
