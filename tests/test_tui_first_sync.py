"""A newcomer's first sync at 80x24, point by point (issue 12 §3), asserting the store and screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import OptionList

from core import accounts as acc
from core.sites import get_site
from core.sync import service
from store import Store
from store.models import Account, SyncRun
from tests.conftest import (
    SITE,
    demo_roster,
    demo_store,
    make_app,
    sandbox_transport,
    settle,
    wait_for_text,
)
from tui.app import FactsyncApp
from tui.dialogs import ConfirmDialog
from tui.flow import StepId
from tui.screens.conflicts import ConflictsScreen

SMALL = (80, 24)


async def open_with_roster(pilot: Pilot[Any], step: StepId, needle: str) -> str:
    app = pilot.app
    assert isinstance(app, FactsyncApp)
    app.site = SITE
    app.services.flow(SITE).read(demo_roster("parents"))
    app.open_step(step, SITE)
    return await wait_for_text(pilot, needle)


async def test_bulk_decision_by_kind_with_a_count_a_confirmation_and_undo(tmp_path: Path) -> None:
    store = demo_store(tmp_path)
    service.save_setup(store, SITE, kind="parents")
    app = make_app(store, tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await open_with_roster(pilot, StepId.CONFLICTS, "left to decide")
        screen = app.screen
        assert isinstance(screen, ConflictsScreen) and screen.plan is not None
        open_before = len(screen.plan.open_conflicts)
        shared = [c for c in screen.plan.open_conflicts if c.kind == "shared-email-family"
                  and sum(p.listed_first for p in c.people) == 1]
        await pilot.press("b")
        await wait_for_text(pilot, "Decide by kind")
        offered = [str(o.prompt) for o in app.screen.query_one("#choices", OptionList).options]
        assert offered[0] == (f"give each shared in-family email to the listed-first parent: "
                              f"{len(shared)} families")
        assert any(o.startswith("skip every person without an email: ") for o in offered)
        await pilot.press("enter")
        await wait_for_text(pilot, "Decide by kind?")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await wait_for_text(pilot, f"{open_before - len(shared)} left to decide")
        decisions = service.require_setup(store, SITE).decisions
        assert {(d.action, d.email) for d in decisions} == {
            ("assign", (c.email or "").strip().casefold()) for c in shared}
        assert all(d.person_id == next(p.person_id for p in c.people if p.listed_first)
                   for d, c in zip(sorted(decisions, key=lambda d: d.email or ""),
                                   sorted(shared, key=lambda c: (c.email or "").casefold()),
                                   strict=True))
        await settle(pilot)
        # undoable like any decision: one u takes the whole kind back
        await pilot.press("u")
        await wait_for_text(pilot, f"{open_before} left to decide")
        assert service.require_setup(store, SITE).decisions == ()


async def test_a_single_decision_shows_at_once_and_u_takes_it_back(tmp_path: Path) -> None:
    store = demo_store(tmp_path)
    service.save_setup(store, SITE, kind="parents")
    app = make_app(store, tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await open_with_roster(pilot, StepId.CONFLICTS, "left to decide")
        screen = app.screen
        assert isinstance(screen, ConflictsScreen)
        await pilot.press("enter")
        await wait_for_text(pilot, "Decide:")
        await pilot.press("enter")
        await wait_for_text(pilot, "● done")  # the row turns gray before the plan is made again
        assert len(service.require_setup(store, SITE).decisions) == 1
        await settle(pilot)
        await pilot.press("u")
        await settle(pilot)
        assert service.require_setup(store, SITE).decisions == ()


async def test_enter_on_kind_goes_on_at_the_first_visit(tmp_path: Path) -> None:
    """A new site has no kind yet: the first choice is highlighted and Enter saves it."""
    store = demo_store(tmp_path)
    app = make_app(store, tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        app.site = SITE
        app.open_step(StepId.KIND, SITE)
        text = await wait_for_text(pilot, "One kind per site")
        assert "⏎ Next" in text.splitlines()[-1]  # the footer says what Enter does
        await pilot.press("enter")
        await wait_for_text(pilot, "Read from FACTS")
    assert service.require_setup(store, SITE).kind == "parents"


async def sync_through_the_preview(pilot: Pilot[Any]) -> str:
    await open_with_roster(pilot, StepId.PREVIEW, "New accounts")
    await pilot.press("s")
    return await wait_for_text(pilot, "Synced (run")


async def test_invites_list_only_accounts_the_sync_created(tmp_path: Path) -> None:
    """The demo's hand-made accounts the sync links existed before: they are not invited."""
    store = demo_store(tmp_path)
    service.save_setup(store, SITE, kind="parents")
    app = make_app(store, tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        plan = service.make_plan(store, SITE, demo_roster("parents"))
        added, linked = plan.counts()["added"], plan.counts()["linked"]
        assert linked >= 1
        text = await sync_through_the_preview(pilot)
        assert f"{added} new" in text and f"New accounts to invite ({added})" in text
    site = get_site(store, SITE)
    invited = {i.email for i in acc.pending_invites(site)}
    manual_linked = Account.select().where((Account.site == site) & (Account.origin == "sis")
                                           & Account.email.contains("home-mail"))
    assert len(invited) == added and not any(a.email in invited for a in manual_linked)


async def test_runs_are_numbered_per_site(tmp_path: Path) -> None:
    store = demo_store(tmp_path)
    other = "Lincoln PTA (students)"
    service.save_setup(store, SITE, kind="parents")
    for _ in range(2):  # two runs on the first site
        await service.sync(store, SITE, transport=sandbox_transport())
        service.decide(store, SITE, person_id=next(
            c.people[0].person_id for c in service.make_plan(
                store, SITE, demo_roster("parents")).open_conflicts
            if c.kind == "missing-email"), skip=True)
    from core.sites import add_site

    site = add_site(store, other)
    from core.connection import save_connection
    from core.demo import DEMO_BASE_URL
    from core.facts.plans import SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY

    save_connection(store, site, base_url=DEMO_BASE_URL, api_key=SANDBOX_API_KEY,
                    subscription_key=SANDBOX_SUBSCRIPTION_KEY, plan="enterprise")
    service.save_setup(store, other, kind="students")
    assert SyncRun.select().count() == 2
    app = make_app(store, tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        app.site = other
        app.services.flow(other).read(demo_roster("students"))
        app.open_step(StepId.PREVIEW, other)
        await wait_for_text(pilot, "New accounts")
        await pilot.press("s")
        text = await wait_for_text(pilot, "Synced (run")
        assert "Synced (run 1)" in text  # the second site's first run, not the store's third
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("y")
        text = await wait_for_text(pilot, "runs")
        assert "u undoes run 1 (sync)" in text
    numbers = {(r.site.name, r.number) for r in SyncRun.select()}
    assert numbers == {(SITE, 1), (SITE, 2), (other, 1)}


async def test_archive_rows_state_the_rule_in_words(tmp_path: Path) -> None:
    """After the status criterion changes, each archive says which rule removed it."""
    store: Store = demo_store(tmp_path)
    service.save_setup(store, SITE, kind="parents")
    await service.sync(store, SITE, transport=sandbox_transport())
    service.save_setup(store, SITE, statuses=["Graduate"])
    app = make_app(store, tmp_path)
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(pilot)
        await open_with_roster(pilot, StepId.PREVIEW, "New accounts")
        await pilot.press("down", "down", "down", "enter")  # Archived
        text = await wait_for_text(pilot, "Archived (")
        words = " ".join(text.split())
        assert ("none of their students matches this site's criteria any more (their student's "
                "enrollment status is Enrolled; this site rosters Graduate students)") in words
        plan = app.services.flow(SITE).plan
        assert plan is not None
        reasons = {it.reason for it in plan.of("archive")}
        assert any("enrollment status is Enrolled; this site rosters Graduate students" in r
                   for r in reasons), reasons
        assert not any("changed to Enrolled" in r for r in reasons)
