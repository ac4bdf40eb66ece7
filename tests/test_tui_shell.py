"""The app shell: walkthrough, help, command palette, Connect's words, cancel, the commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from core.cli import cli
from core.connection import save_connection
from core.demo import DEMO_DB_NAME, DEMO_SITE, build_demo_store
from core.facts.plans import SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY
from core.sites import add_site, list_sites
from core.sync import service
from store import open_store
from store.models import Account, HourEntry, SyncRun
from tests.conftest import demo_roster, demo_store, make_app, screen_text, settle, wait_for_text
from tui.dialogs import HelpDialog
from tui.flow import StepId
from tui.screens.accounts import AccountsScreen
from tui.screens.kind import KindScreen
from tui.widgets.chrome import WalkthroughPanel


async def test_walkthrough_explains_each_step_and_never_echoes_typed_keys(tmp_path: Path) -> None:
    store = demo_store(tmp_path)
    app = make_app(store, tmp_path, walkthrough=True)
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "Home lists the volunteer-hours sites" in text
        await pilot.press("enter")
        text = await wait_for_text(pilot, "Connect: paste the school's FACTS API key")
        assert "Keys:" in text and "Enter Set up" in text
        await pilot.press("f5")  # Check, while no field has the focus
        await wait_for_text(pilot, "F5 Check")
        app.screen.query_one("#api-key").focus()
        await pilot.press(*"s3cr3t-key")
        text = screen_text(app)
        assert "typing…" in text and "s3cr3t" not in text
        await pilot.press("f2")
        await settle(pilot)
        assert not app.screen.query_one(WalkthroughPanel).display
        assert "Connect: paste" not in screen_text(app)


async def test_f1_help_for_the_step_and_its_keys(tmp_path: Path) -> None:
    store = demo_store(tmp_path)
    app = make_app(store, tmp_path)
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        await settle(pilot)
        assert isinstance(app.screen, HelpDialog)
        text = screen_text(app)
        assert "Begin Sync" in text and "New site" in text
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, HelpDialog)


async def test_command_palette_opens_side_screens(tmp_path: Path) -> None:
    store = demo_store(tmp_path)
    app = make_app(store, tmp_path)
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.press(*"Accounts", "enter")
        await wait_for_text(pilot, "Type to search")
        assert isinstance(app.screen, AccountsScreen)


async def test_read_only_key_says_hours_will_not_be_written_back(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s.db")
    site = add_site(store, "Read-only school")
    save_connection(store, site, base_url="sandbox:?families=40&seed=3&people=Read",
                    api_key=SANDBOX_API_KEY, subscription_key=SANDBOX_SUBSCRIPTION_KEY)
    app = make_app(store, tmp_path, shared_sandbox=False)
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await wait_for_text(pilot, "Not checked yet")
        await pilot.press("f5")
        text = await wait_for_text(pilot, "People write   ✗ no")
        assert ("hours will not be written back: set People to Write in FACTS under System > "
                "Configuration > API Configuration") in " ".join(text.replace("│", " ").split())
        assert "People read    ✓ yes" in text


async def test_escape_cancels_a_slow_read(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s.db")
    site = add_site(store, "Slow school")
    save_connection(store, site, base_url="sandbox:?families=40&seed=3&latency_ms=400",
                    api_key=SANDBOX_API_KEY, subscription_key=SANDBOX_SUBSCRIPTION_KEY,
                    plan="enterprise")
    service.save_setup(store, site, kind="parents")
    app = make_app(store, tmp_path, shared_sandbox=False)
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(pilot)
        app.site = "Slow school"
        app.open_step(StepId.KIND, "Slow school")
        await wait_for_text(pilot, "One kind per site")
        await pilot.press("enter")
        await wait_for_text(pilot, "Reading from FACTS")
        await pilot.press("escape")
        await wait_for_text(pilot, "One kind per site")
        assert isinstance(app.screen, KindScreen)
        await app.workers.wait_for_complete()
        assert app.services.flow("Slow school").roster is None


async def test_untrusted_names_are_shown_literally_on_home(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s.db")
    add_site(store, "[bold]PTA[/bold] \x1b[31m<i>x</i>")
    app = make_app(store, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "[bold]PTA[/bold]" in text and "<i>x</i>" in text and "\x1b" not in text


def test_demo_builds_a_fresh_store_every_time(tmp_path: Path) -> None:
    for _ in range(2):
        path = build_demo_store(tmp_path)
        assert path == tmp_path / DEMO_DB_NAME
        store = open_store(path)
        try:
            assert [s.name for s in list_sites(store)] == [DEMO_SITE]
            assert Account.select().count() == 4 and HourEntry.select().count() == 6
            assert SyncRun.select().count() == 0
        finally:
            store.close()
        # what a demo session changes is gone next time
        store = open_store(path)
        service.save_setup(store, DEMO_SITE, kind="parents")
        store.close()


def test_commands_are_registered_and_textual_loads_lazily() -> None:
    runner = CliRunner()
    for args in (["wizard", "--help"], ["demo", "--help"], ["serve", "--help"]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert "--walkthrough" in result.output
    serve = runner.invoke(cli, ["serve", "--help"]).output
    assert "--host" in serve and "127.0.0.1" in serve and "--port" in serve
    check = "import sys, core.cli, core.demo; assert 'textual' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", check], check=False).returncode == 0


async def test_every_command_palette_entry_opens_its_screen(tmp_path: Path) -> None:
    from tui import flow
    from tui.flow import StepId
    from tui.screens.base import FactsyncScreen

    store = demo_store(tmp_path)
    service.save_setup(store, DEMO_SITE, kind="parents")
    app = make_app(store, tmp_path)
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(pilot)
        app.services.flow(DEMO_SITE).read(demo_roster("parents"))
        for step in flow.STEPS:
            if not step.palette:
                continue
            app.site = DEMO_SITE
            app.open_step(step.palette_opens or step.id, DEMO_SITE)
            await settle(pilot)
            screen = app.screen
            if step.id is StepId.NEW_SITE:
                assert "New site" in screen_text(app)
            elif step.id is StepId.SYNC:  # the plan is shown before anything is applied
                assert isinstance(screen, FactsyncScreen) and screen.STEP is StepId.PREVIEW
            elif step.id is StepId.RESYNC:  # a first sync: Begin Sync shows the Preview first
                await wait_for_text(pilot, "New accounts")
                assert isinstance(app.screen, FactsyncScreen)
                assert app.screen.STEP is StepId.PREVIEW
            else:
                assert isinstance(screen, FactsyncScreen) and screen.STEP is step.id, step.id
            app.go_home()
            await settle(pilot)


def test_factsync_alone_takes_walkthrough() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0 and "--walkthrough" in result.output


async def test_every_footer_fits_80_columns(tmp_path: Path) -> None:
    """No screen's footer runs off the edge at 80x24 (the last key would be cut)."""
    from textual.widgets import Footer

    from tui import flow
    from tui.flow import Needs

    store = demo_store(tmp_path)
    service.save_setup(store, DEMO_SITE, kind="parents")
    app = make_app(store, tmp_path)
    cut: list[str] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.services.flow(DEMO_SITE).read(demo_roster("parents"))
        for step in flow.STEPS:
            if step.needs is Needs.NOTHING or step.id in (StepId.DETAILS, StepId.SYNC):
                continue
            app.open_step(step.id, DEMO_SITE)
            await settle(pilot)
            footer = app.screen.query_one(Footer)
            used = sum(child.outer_size.width for child in footer.children)
            if used > footer.size.width:
                cut.append(f"{step.id.value}: {used} > {footer.size.width}")
            app.go_home()
            await settle(pilot)
    assert not cut, cut
