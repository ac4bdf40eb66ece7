"""Accounts screen: list, search as you type, merge two accounts like a person would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.accounts import list_accounts
from store.models import Account, HourEntry
from tests.conftest import (
    CONTROL_NAME,
    LONG_NAME,
    MARKUP_NAME,
    Env,
    StepApp,
    account,
    hours,
    make_env,
    raw_names,
    screen_text,
    settle,
    step_app,
)
from tui.flow import StepId
from tui.screens.accounts import AccountsScreen
from tui.widgets.lazy_table import LazyTable


def populate(tmp_path: Path) -> Env:
    env = make_env(tmp_path)
    account(env, "ann.lee@example.org", "Ann", "Lee", person_id=1201, family="301")
    account(env, "ANN.LEE@home.example", "Ann", "Lee")
    account(env, "bob.kim@example.org", "Bob", "Kim", person_id=1202, family="302")
    hostile = account(env, "hostile@example.org", "x", "y")
    raw_names(hostile, MARKUP_NAME, CONTROL_NAME)
    long = account(env, "long@example.org", "L", "Z")
    raw_names(long, LONG_NAME, "Zed")
    hours(env, "ann.lee@example.org", 2.0, "Book fair", approved=True)
    hours(env, "ANN.LEE@home.example", 3.5, "Car wash", approved=True)
    hours(env, "ANN.LEE@home.example", 1.0, "Bake sale")
    return env


def app_for(env: Env) -> StepApp:
    return step_app(env, StepId.ACCOUNTS)


async def search(pilot: Any, text: str) -> None:
    """Type a new search (from the list, a letter starts it) and go back to the list."""
    app = pilot.app
    app.screen.query_one("#accounts-search").focus()
    await pilot.press("home", "ctrl+k", *list(text), "enter")
    await pilot.pause()


async def test_search_filters_and_shows_hostile_text_literally(tmp_path: Path) -> None:
    env = populate(tmp_path)
    app = app_for(env)
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(LazyTable)
        assert table.row_count == 5
        text = screen_text(app)
        assert MARKUP_NAME[:20] in text  # markup shown as typed, not interpreted
        assert "\x1b" not in text and "\x07" not in text
        assert "5 accounts" in text
        await search(pilot, "ann lee")
        assert table.row_count == 2
        assert "2 of 5 accounts" in screen_text(app)
        await search(pilot, "1202")
        assert table.row_count == 1
        assert "bob.kim@example.org" in screen_text(app)


async def test_merge_moves_hours_and_archives_the_absorbed(tmp_path: Path) -> None:
    env = populate(tmp_path)
    app = app_for(env)
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(pilot)
        await search(pilot, "1201")
        await pilot.press("k")
        await search(pilot, "home")
        await pilot.press("a")
        assert "keep ann.lee@example.org" in screen_text(app)
        await pilot.press("m")
        await pilot.pause()
        assert "Merge these two accounts?" in screen_text(app)
        await pilot.press("y")
        await settle(pilot)
        shown = screen_text(app)
        assert "Merged ANN.LEE@home.example into ann.lee@example.org" in shown
        assert "2 entries (3.5 approved hours) moved" in shown
    keep = Account.get(Account.email == "ann.lee@example.org")
    absorbed = Account.get(Account.email == "ANN.LEE@home.example")
    assert absorbed.status == "archived"
    assert HourEntry.select().where(HourEntry.account == absorbed).count() == 0
    assert HourEntry.select().where(HourEntry.account == keep).count() == 3
    views = {v.email: v for v in list_accounts(env.site)}
    assert views["ann.lee@example.org"].hours == 5.5


async def test_merge_needs_both_marks_and_no_changes_nothing(tmp_path: Path) -> None:
    env = populate(tmp_path)
    app = app_for(env)
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(pilot)
        await pilot.press("enter", "k", "m")
        await pilot.pause()
        assert "Mark one account to keep (k) and another to absorb (a) first." in screen_text(app)
        await pilot.press("down", "a", "m")
        await pilot.pause()
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, AccountsScreen)
        await pilot.press("f1")
        await pilot.pause()
        assert "Merge two accounts" in screen_text(app)
        await pilot.press("escape", "escape")
        await pilot.pause()
        assert not isinstance(app.screen, AccountsScreen)
    assert Account.select().where(Account.status == "archived").count() == 0


async def test_typing_a_name_searches_and_never_runs_list_keys(tmp_path: Path) -> None:
    """Typing "kim" with the list focused searches for it: k does not mark an account to keep."""
    env = populate(tmp_path)
    app = app_for(env)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, AccountsScreen)
        assert app.focused is screen.query_one("#accounts-search")  # typing starts a search
        await pilot.press(*"lee")
        await settle(pilot)
        assert screen.query_one(LazyTable).row_count == 2
        await pilot.press("enter")  # to the list, whose keys show in the footer and the hint
        text = screen_text(app)
        assert "List keys: k keep" in text and "Absorb" in text
        await pilot.press("backspace")  # not a list key: nothing happens to the accounts
        await pilot.press(*"bob")  # a letter in the list starts a new search with it
        await settle(pilot)
        assert app.focused is screen.query_one("#accounts-search")
        assert screen.keep_id is None and screen.absorb_id is None
        assert "keep —" in screen_text(app)


def test_snapshot_accounts_100x32(tmp_path: Path, snap_compare: Any) -> None:
    env = populate(tmp_path)
    assert snap_compare(app_for(env), terminal_size=(100, 32),
                        press=["enter", "k", "down", "down", "a"], run_before=settle)


def test_snapshot_accounts_80x24(tmp_path: Path, snap_compare: Any) -> None:
    env = populate(tmp_path)
    assert snap_compare(app_for(env), terminal_size=(80, 24), run_before=settle)
