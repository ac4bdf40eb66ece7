"""The screens of issue 10 (and issue 8's two items), driven like a person at 80x24: Home shows a
held or paused site; Begin Sync opens the Preview when anything new waits; the Preview shows the
held rows and approves them after a confirmation; Connect checks keys before saving them; the
Preview and the Sync result show unreadable FACTS records and export the error report."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from core import site_settings
from core.sites import get_site
from core.sync import service
from store.models import Account, Connection, SyncRun
from tests.conftest import (
    SITE,
    demo_store,
    make_app,
    sandbox_transport,
    settle,
    wait_for_text,
)
from tui.dialogs import ConfirmDialog
from tui.screens.preview import PreviewScreen
from tui.screens.sync import SyncScreen

SIZE = (80, 24)


async def synced(tmp_path: Path):  # type: ignore[no-untyped-def]
    store = demo_store(tmp_path)
    service.save_setup(store, SITE, kind="parents")
    await service.sync(store, SITE, transport=sandbox_transport())
    return store


def archived(store) -> int:  # type: ignore[no-untyped-def]
    return Account.select().where(Account.status == "archived").count()


async def test_a_held_site_is_shown_and_its_hold_approved_in_the_preview(tmp_path: Path) -> None:
    store = await synced(tmp_path)
    service.save_setup(store, SITE, parents_preset="listed-first")  # a mass archive
    result = await service.sync(store, SITE, transport=sandbox_transport())
    assert result.hold is not None and archived(store) == 0
    count = len(result.hold.rows)
    runs = SyncRun.select().count()
    app = make_app(store, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await wait_for_text(pilot, f"{count} archives held for a person")
        await pilot.press("s")  # Begin Sync: something waits, so the Preview comes first
        text = await wait_for_text(pilot, f"Held for a person: hold {result.hold.id}")
        assert isinstance(app.screen, PreviewScreen)
        assert SyncRun.select().count() == runs  # nothing applied yet
        await pilot.press("a")
        text = await wait_for_text(pilot, "Approve the held archives?")
        assert isinstance(app.screen, ConfirmDialog) and f"Archive {count}" in text
        await pilot.press("n")  # cancel: nothing changes
        await settle(pilot)
        assert archived(store) == 0
        await pilot.press("a")
        await wait_for_text(pilot, "Approve the held archives?")
        await pilot.press("y")
        await settle(pilot)
        assert archived(store) == count
        assert service.holds(store, SITE) == []
        screen = app.screen
        assert isinstance(screen, PreviewScreen) and screen.hold is None


async def test_begin_sync_applies_directly_only_when_nothing_new_waits(tmp_path: Path) -> None:
    store = await synced(tmp_path)
    app = make_app(store, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await wait_for_text(pilot, "Nothing to change")
        assert isinstance(app.screen, SyncScreen)


async def test_a_first_begin_sync_opens_the_preview(tmp_path: Path) -> None:
    store = demo_store(tmp_path)
    service.save_setup(store, SITE, kind="parents")
    app = make_app(store, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await wait_for_text(pilot, "New accounts")
        assert isinstance(app.screen, PreviewScreen)
        assert Account.select().where(Account.origin == "sis").count() == 0
        await pilot.press("s")
        await wait_for_text(pilot, "Synced (run 1)")


async def test_a_paused_site_says_so_and_does_not_sync(tmp_path: Path) -> None:
    store = await synced(tmp_path)
    site = get_site(store, SITE)
    site_settings.pause(store, site, site_settings.parse_until("2999-01-01"), "year-end rollover")
    app = make_app(store, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await wait_for_text(pilot, "Paused until 2999-01-01: year-end")
        await pilot.press("s")
        await settle(pilot)
        assert not isinstance(app.screen, SyncScreen)
        assert SyncRun.select().count() == 1


async def test_connect_checks_new_keys_before_saving_them(tmp_path: Path) -> None:
    store = await synced(tmp_path)
    before = Connection.get()
    app = make_app(store, tmp_path)
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await wait_for_text(pilot, "People read")
        screen = app.screen
        screen.query_one("#api-key").value = "WrongKey-1234"  # type: ignore[attr-defined]
        screen.query_one("#api-key").focus()
        await pilot.press("enter")
        text = await wait_for_text(pilot, "did not pass the check")
        assert "stay in use" in text
    after = Connection.get()
    assert (after.api_key_ref, after.api_key_hint, after.people_read, after.people_write) == (
        before.api_key_ref, before.api_key_hint, True, True)
    assert store.secrets.get(after.api_key_ref) != "WrongKey-1234"


def _bad_records(store) -> None:  # type: ignore[no-untyped-def]
    Connection.update(base_url="sandbox:?families=120&seed=7&bad_records=0.004").execute()


async def test_unreadable_records_are_shown_and_exported_from_preview_and_sync(
    tmp_path: Path,
) -> None:
    store = demo_store(tmp_path)
    service.save_setup(store, SITE, kind="parents")
    _bad_records(store)
    app = make_app(store, tmp_path, shared_sandbox=False)
    exports = tmp_path / "exports"
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("s")  # a first sync: the Preview first
        text = await wait_for_text(pilot, "Unreadable")
        plan = app.services.flow(SITE).plan
        assert plan is not None and plan.unreadable
        assert re.search(rf"Unreadable +{len(plan.unreadable)} FACTS records left out", text)
        await pilot.press("r")
        await settle(pilot)
        (report,) = exports.glob("errors-*.csv")
        rows = list(csv.DictReader(report.open(encoding="utf-8")))
        assert sum(r["kind"] == "unreadable" for r in rows) == len(plan.unreadable)
        report.unlink()
        # the drill lists each record with what is wrong with it
        table = app.screen.query_one("#counts")
        table.focus()
        await pilot.press("end", "enter")
        text = await wait_for_text(pilot, f"Unreadable ({len(plan.unreadable)})")
        await pilot.press("escape")
        await pilot.press("s")
        text = await wait_for_text(pilot, "Synced (run 1)")
        assert f"Unreadable: {len(plan.unreadable)} FACTS record" in text.replace("\n", " ")
        await pilot.press("r")
        await settle(pilot)
        (again,) = exports.glob("errors-*.csv")
        assert sum(r["kind"] == "unreadable"
                   for r in csv.DictReader(again.open(encoding="utf-8"))) == len(plan.unreadable)
