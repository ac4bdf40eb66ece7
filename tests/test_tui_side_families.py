"""Families screen: the saved groups, grouping ids typed like a person, refusals in words."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.sync.service import load_setup, save_setup
from tests.conftest import (
    MARKUP_NAME,
    Env,
    StepApp,
    account,
    make_env,
    raw_names,
    screen_text,
    settle,
    step_app,
)
from tui.flow import StepId
from tui.screens.families import parse_family_ids


def populate(tmp_path: Path, *, setup: bool = True) -> Env:
    env = make_env(tmp_path, kind=None)
    if setup:
        save_setup(env.store, env.site, kind="parents")
    account(env, "ann.lee@example.org", "Ann", "Lee", person_id=1201, family="301")
    hostile = account(env, "x@example.org", "x", "y", person_id=1202, family="302")
    raw_names(hostile, MARKUP_NAME, "Doe")
    return env


def app_for(env: Env) -> StepApp:
    return step_app(env, StepId.FAMILIES)


def test_parse_family_ids() -> None:
    assert parse_family_ids(" 301, 302;303 ") == [301, 302, 303]
    with pytest.raises(ValueError, match="'abc' is not a family id"):
        parse_family_ids("301 abc")
    with pytest.raises(ValueError, match="at least two"):
        parse_family_ids("301 301")


async def test_group_ids_and_groups_melt(tmp_path: Path) -> None:
    env = populate(tmp_path)
    app = app_for(env)
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(pilot)
        assert "No family groups yet" in screen_text(app)
        await pilot.press("g", *"301, 302", "enter")
        await settle(pilot)
        doc = load_setup(env.store, env.site)
        assert doc is not None and doc.family_groups == ((301, 302),)
        text = screen_text(app)
        assert "Grouped: families 301, 302 are one household (group 301)" in text
        assert "1 family groups" in text
        assert f"Ann Lee, {MARKUP_NAME} Doe" in text
        await pilot.press(*"302 7", "enter")
        await settle(pilot)
        doc = load_setup(env.store, env.site)
        assert doc is not None and doc.family_groups == ((7, 301, 302),)
        assert "Grouped: families 7, 301, 302" in screen_text(app)
        await pilot.press(*"9 x", "enter")
        await settle(pilot)
        assert "'x' is not a family id (numbers only)" in screen_text(app)
        doc = load_setup(env.store, env.site)
        assert doc is not None and doc.family_groups == ((7, 301, 302),)


async def test_without_setup_says_what_to_do(tmp_path: Path) -> None:
    env = populate(tmp_path, setup=False)
    app = app_for(env)
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(pilot)
        assert "no sync setup yet" in screen_text(app)


def test_snapshot_families_80x24(tmp_path: Path, snap_compare: Any) -> None:
    env = populate(tmp_path)
    save_setup(env.store, env.site, kind="parents")
    from core.sync.service import group_families

    group_families(env.store, env.site, [301, 302])
    group_families(env.store, env.site, [410, 411, 412])
    assert snap_compare(app_for(env), terminal_size=(80, 24), run_before=settle)
