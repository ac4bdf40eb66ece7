"""Which screen a step or a command-palette action opens, with what it needs first.

A step that needs the roster (criteria, review, conflicts, preview) opens the fetch screen first,
which then continues to the step asked for; Sync needs a previewed plan.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.screen import Screen

if TYPE_CHECKING:
    from store.models import Site
    from tui.app import FactsyncApp
    from tui.services import Services

NEEDS_ROSTER = ("criteria", "review", "conflicts", "preview")
SIDE = ("accounts", "hours", "writeback", "history", "families")
"""Screens beside the flow that take the store and the Site row (``tui.screens.side_common``)."""


def side_screen(services: Services, site: Site, step: str) -> Screen[Any]:
    from tui.screens.accounts import AccountsScreen
    from tui.screens.families import FamiliesScreen
    from tui.screens.history import HistoryScreen
    from tui.screens.hours import HoursScreen
    from tui.screens.writeback import WriteBackScreen

    store = services.store
    if step == "hours":
        return HoursScreen(store, site, by=services.approver)
    if step == "accounts":
        return AccountsScreen(store, site)
    if step == "writeback":
        return WriteBackScreen(store, site)
    if step == "history":
        return HistoryScreen(store, site)
    if step == "families":
        return FamiliesScreen(store, site)
    raise ValueError(f"no side screen {step!r}")


def open_side(app: FactsyncApp, site_name: str, step: str) -> None:
    """Read the site row in a thread, then open the side screen."""

    def read() -> None:
        from core.sites import get_site

        site = get_site(app.services.store, site_name)
        app.call_from_thread(app.push_screen, side_screen(app.services, site, step))

    app.run_worker(read, thread=True, group="open-side", exit_on_error=False)


def screen_for(services: Services, site: str, step: str) -> Screen[Any] | None:
    """The screen of ``step`` for ``site`` (None when the step cannot open yet)."""
    from tui.screens.base import WizardScreen
    from tui.screens.conflicts import ConflictsScreen
    from tui.screens.connect import ConnectScreen
    from tui.screens.criteria import CriteriaScreen
    from tui.screens.fetch import FetchScreen
    from tui.screens.invites import InvitesScreen
    from tui.screens.kind import KindScreen
    from tui.screens.preview import PreviewScreen
    from tui.screens.review import ReviewParentsScreen, ReviewStudentsScreen
    from tui.screens.sync import SyncScreen

    flow = services.flow(site)
    if step in NEEDS_ROSTER and flow.roster is None:
        return FetchScreen(services, site, then=step)
    if step == "fetch":
        return FetchScreen(services, site, then="criteria")
    if step == "review":
        assert flow.roster is not None
        if flow.roster.kind == "students":
            return ReviewStudentsScreen(services, site)
        return ReviewParentsScreen(services, site)
    if step == "sync":
        return SyncScreen(services, site, resync=False) if flow.plan is not None else None
    if step == "resync":
        return SyncScreen(services, site, resync=True)
    factories: dict[str, type[WizardScreen[None]]] = {
        "connect": ConnectScreen,
        "kind": KindScreen,
        "criteria": CriteriaScreen,
        "conflicts": ConflictsScreen,
        "preview": PreviewScreen,
        "invites": InvitesScreen,
    }
    factory = factories.get(step)
    return factory(services, site) if factory is not None else None


def go_home(app: FactsyncApp) -> None:
    """Back to Home, closing every step above it."""
    while len(app.screen_stack) > 1:
        app.pop_screen()


def run(app: FactsyncApp, action: str) -> None:
    """Run a command-palette action (or a Home key) for the site picked on Home."""
    from tui.screens.home import HomeScreen

    if action == "walkthrough":
        app.action_toggle_walkthrough()
        return
    if action == "help":
        app.action_help()
        return
    if action in ("home", "new_site"):
        go_home(app)
        if action == "new_site":
            home = app.screen
            if isinstance(home, HomeScreen):
                app.call_later(home.action_new_site)
        return
    site = app.site
    if site is None:
        app.notify("Pick a site on Home first.", severity="warning")
        return
    if action in SIDE:
        open_side(app, site, action)
        return
    if action == "sync":
        action = "preview"  # Sync applies the plan the admin is looking at: show it first
    screen = screen_for(app.services, site, action)
    if screen is None:
        app.notify("Preview the plan first: Sync applies the plan the Preview showed.",
                   severity="warning")
        return
    app.push_screen(screen)
