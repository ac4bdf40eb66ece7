"""Complete wizard flows driven like a person, asserting on the store and on the screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import events
from textual.pilot import Pilot

from core.sites import get_site
from core.sync import service
from core.sync.conflicts import Conflict
from store.models import Account, HourEntry, Outbox, Site, SyncRun
from tests.conftest import (
    demo_store,
    make_app,
    sandbox_transport,
    screen_text,
    settle,
    wait_for_text,
)
from tui.dialogs import ChoiceDialog, ConfirmDialog
from tui.screens.conflicts import ConflictsScreen
from tui.screens.review import ReviewParentsScreen
from tui.widgets.lazy_table import LazyTable
from tui.widgets.subset_grid import SubsetGrid

SITE = "Lincoln PTA"


async def walk_to_review(pilot: Pilot[Any], kind_key: str = "p") -> None:
    """Home → Connect → Kind → Read → Criteria → Review, with Enter (and the kind's key)."""
    await pilot.press("enter")
    await wait_for_text(pilot, "People read")
    await pilot.press("enter")
    await wait_for_text(pilot, "One kind per site")
    await pilot.press(kind_key, "enter")
    await wait_for_text(pilot, "Press Enter to go on")
    await pilot.press("enter")
    await wait_for_text(pilot, "students match")
    await pilot.press("enter")
    await wait_for_text(pilot, "Review")


async def paste(pilot: Pilot[Any], text: str) -> None:
    """Paste into the focused field (what a terminal sends for Ctrl+Shift+V)."""
    focused = pilot.app.focused
    assert focused is not None
    focused.post_message(events.Paste(text))
    await pilot.pause()


def sis_accounts(site: Site) -> list[Account]:
    return list(Account.select().where((Account.site == site) & (Account.origin == "sis")))


async def test_first_parents_sync_then_a_mass_archive_confirmation(tmp_path: Path) -> None:
    store = demo_store(tmp_path)
    app = make_app(store, tmp_path)
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(pilot)
        await walk_to_review(pilot)
        await wait_for_text(pilot, "Preset All parents")

        # a preset change, then one per-family toggle
        await pilot.press("m")
        await wait_for_text(pilot, "Preset Mothers & fathers")
        grid = app.screen.query_one(SubsetGrid)
        row, slot, state = grid.current
        assert slot is not None and state is not None and state.included
        toggled = slot.person_id
        family_id = grid.source.family(row)[0]
        await pilot.press("space")
        text = await wait_for_text(pilot, "by an admin's choice")
        assert "[ ]*" in text
        screen = app.screen
        assert isinstance(screen, ReviewParentsScreen)
        await settle(pilot)
        assert screen.saved
        setup = service.require_setup(store, SITE)
        assert setup.parents.preset == "mothers-fathers"
        assert [(o.family_id, o.person_id, o.include) for o in setup.parents.overrides] == [
            (family_id, toggled, False)
        ]

        # a shared-email decision
        await pilot.press("enter")
        await wait_for_text(pilot, "left to decide")
        conflicts = app.screen
        assert isinstance(conflicts, ConflictsScreen) and conflicts.plan is not None
        open_before = len(conflicts.plan.open_conflicts)
        table = conflicts.query_one("#conflicts", LazyTable)
        while not (isinstance(table.current, Conflict)
                   and table.current.kind == "shared-email-family"):
            await pilot.press("down")
        shared: Conflict = table.current
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ChoiceDialog)
        await pilot.press("enter")  # the first choice: give the email to the first person
        await wait_for_text(pilot, f"{open_before - 1} left to decide")
        await pilot.press("end")  # decided conflicts stay listed, in gray, at the end
        text = await wait_for_text(pilot, "Decided: email given to person")
        assert "● done" in text
        decisions = service.require_setup(store, SITE).decisions
        assert [(d.action, d.email, d.person_id) for d in decisions] == [
            ("assign", shared.email.strip().casefold() if shared.email else None,
             shared.people[0].person_id)
        ]

        # preview and sync
        await pilot.press("n")
        await wait_for_text(pilot, "New accounts")
        plan = app.services.flow(SITE).plan
        assert plan is not None
        await pilot.press("s")
        text = await wait_for_text(pilot, "Synced (run 1)")
        site = get_site(store, SITE)
        assert site.kind == "parents"
        linked = sis_accounts(site)
        assert len(linked) == plan.counts()["added"] + plan.counts()["linked"]
        assert toggled not in {a.person_id for a in linked}
        winner = Account.get(Account.person_id == shared.people[0].person_id)
        assert winner.email_key == (shared.email or "").strip().casefold()
        assert f"{plan.counts()['added']} new" in text

        # second visit, through the command palette: listed-first only would archive a large
        # share of the accounts, which needs an explicit confirmation
        await pilot.press("enter")
        await wait_for_text(pilot, "Last sync")
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.press(*"Review", "enter")  # the roster read this session is reused
        await wait_for_text(pilot, "Preset Mothers & fathers")
        await pilot.press("f")
        await wait_for_text(pilot, "Preset Listed first")
        await pilot.press("enter")
        await wait_for_text(pilot, "left to decide")
        await pilot.press("n")
        text = await wait_for_text(pilot, "You will be asked to confirm")
        plan = app.services.flow(SITE).plan
        assert plan is not None and plan.needs_confirmation
        await pilot.press("s")
        text = await wait_for_text(pilot, "Archive many accounts?")
        assert isinstance(app.screen, ConfirmDialog)
        assert f"archive {plan.archive.archive_count} of {plan.archive.synced_count}" in text
        await pilot.press("y")
        await wait_for_text(pilot, "Synced (run 2)")
        archived = Account.select().where(
            (Account.site == site) & (Account.status == "archived") & (Account.origin == "sis")
        ).count()
        assert archived == plan.archive.archive_count > 0.2 * plan.archive.synced_count


async def test_students_sync_on_a_second_site_made_from_the_kind_step(tmp_path: Path) -> None:
    store = demo_store(tmp_path)
    app = make_app(store, tmp_path)
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await wait_for_text(pilot, "People read")
        await pilot.press("enter")
        await wait_for_text(pilot, "One kind per site")
        await pilot.press("p", "n")  # this site rosters parents: a second site for students
        await wait_for_text(pilot, "New site")
        await pilot.press("enter")
        await wait_for_text(pilot, "Connect to FACTS")
        assert app.site == "Lincoln PTA (students)"
        # type the sandbox address and its keys, as a person would
        # the key field has the focus (the URL is prefilled); go up to change the URL first,
        # then paste the address and the keys, as a person would
        await pilot.press("shift+tab", "end", "ctrl+u")
        await paste(pilot, "sandbox:?families=300&seed=7")
        await pilot.press("tab")
        await paste(pilot, "SandboxKey")
        await pilot.press("tab")
        await paste(pilot, "sandbox-subscription-key")
        await pilot.press("enter")
        text = await wait_for_text(pilot, "API key        ••••xKey")
        assert "SandboxKey" not in text and "sandbox-subscription-key" not in text
        await pilot.press("enter")
        await wait_for_text(pilot, "One kind per site")
        await pilot.press("enter")  # students, chosen when the site was made
        await wait_for_text(pilot, "Press Enter to go on")
        await pilot.press("enter")
        await wait_for_text(pilot, "students match")
        await pilot.press("enter")
        text = await wait_for_text(pilot, "to roster")
        assert "Review students" in text
        plan = app.services.flow("Lincoln PTA (students)").plan
        assert plan is not None
        await pilot.press("enter")
        await wait_for_text(pilot, "left to decide")
        await pilot.press("n")
        await wait_for_text(pilot, "New accounts")
        await pilot.press("s")
        await wait_for_text(pilot, "Synced (run 1)")
    site = get_site(store, "Lincoln PTA (students)")
    assert site.kind == "students"
    roles = {a.role for a in sis_accounts(site)}
    assert roles == {"student"}
    assert len(sis_accounts(site)) == plan.counts()["added"]
    # the first site is untouched
    assert not sis_accounts(get_site(store, SITE))


async def first_sync_headless(store: Any) -> service.SyncResult:
    service.save_setup(store, SITE, kind="parents")
    return await service.sync(store, SITE, transport=sandbox_transport())


async def test_resync_from_home_with_begin_sync(tmp_path: Path) -> None:
    store = demo_store(tmp_path)
    first = await first_sync_headless(store)
    waiting = next(c for c in first.plan.open_conflicts if c.kind == "shared-email-family")
    service.decide(store, SITE, email=waiting.email, person_id=waiting.people[0].person_id)
    app = make_app(store, tmp_path)
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(pilot)
        assert "Begin Sync" in screen_text(app)
        await pilot.press("s")
        text = await wait_for_text(pilot, "Synced (run 2)")
        assert "1 new" in text
        await pilot.press("enter")
        text = await wait_for_text(pilot, "Last sync")
        assert "just now: 1 new" in text
    assert SyncRun.select().where(SyncRun.kind == "sync").count() == 2
    assert Account.get(Account.person_id == waiting.people[0].person_id).status == "active"


async def test_merge_two_accounts_from_the_preview(tmp_path: Path) -> None:
    store = demo_store(tmp_path)
    service.save_setup(store, SITE, kind="parents")
    app = make_app(store, tmp_path)
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(pilot)
        app.site = SITE
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.press(*"Preview", "enter")
        await wait_for_text(pilot, "Press Enter to go on")
        await pilot.press("enter")
        await wait_for_text(pilot, "Likely duplicates")
        await pilot.press("tab", "m")
        await wait_for_text(pilot, "Merge after the sync")
        await pilot.press("enter")  # keep the hand-made account (it has the hours)
        await wait_for_text(pilot, "merge after sync")
        await pilot.press("s")
        text = await wait_for_text(pilot, "Synced (run 1)")
        assert "✓ merged" in text
    kept = Account.get(Account.email == "stephanie.nakamura@home-mail.example")
    assert kept.status == "active" and kept.person_id is not None and kept.origin == "sis"
    absorbed = Account.get(Account.archived_reason == f"merged into {kept.email}")
    assert absorbed.status == "archived" and absorbed.person_id is None
    assert HourEntry.select().where(HourEntry.account == kept).count() == 2


async def test_approve_hours_and_the_outbox_count_follows(tmp_path: Path) -> None:
    store = demo_store(tmp_path)
    await first_sync_headless(store)
    site = get_site(store, SITE)
    before = Outbox.select().count()
    app = make_app(store, tmp_path)
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(pilot)
        assert f"{before} queued" in screen_text(app)
        await pilot.press("h")
        text = await wait_for_text(pilot, "Write-back outbox")
        assert "Library shelving" in text
        await pilot.press("a")  # the newest pending entry: a linked account's
        await wait_for_text(pilot, "queued for write-back")
        await pilot.press("escape")
        text = await wait_for_text(pilot, f"{before + 1} queued")
    entry = HourEntry.get(HourEntry.description == "Library shelving")
    assert entry.status == "approved" and entry.approved_by == "Ms Admin"
    assert Outbox.select().where(Outbox.entry == entry).count() == 1
    assert site.name == SITE
