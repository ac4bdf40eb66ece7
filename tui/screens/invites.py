"""New accounts to invite: the list, export to CSV, mark invited (also shown after a sync)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from core import accounts as acc
from core.sites import get_site
from tui.screens.base import WizardScreen
from tui.screens.dialogs import ConfirmScreen
from tui.services import Services, plural
from tui.widgets.lazy_table import Column, LazyTable
from tui.widgets.safe_text import safe_text

INVITE_COLUMNS = (Column("Email", ratio=4), Column("First name", ratio=2),
                  Column("Last name", ratio=2), Column("Family", width=8))


def invite_cells(inv: acc.Invite) -> list[str | Text]:
    return [safe_text(inv.email), safe_text(inv.first_name), safe_text(inv.last_name),
            safe_text(inv.family)]


def export_path(services: Services, site: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", site).strip("-").lower() or "site"
    stamp = services.now().strftime("%Y%m%d-%H%M%S")
    return services.export_dir / f"invites-{slug}-{stamp}.csv"


def write_invites(services: Services, site: str, invites: list[acc.Invite]) -> Path:
    """Write the CSV (spreadsheet formulas neutralised by ``invites_csv``); returns its path."""
    path = export_path(services, site)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(acc.invites_csv(invites), encoding="utf-8")
    return path


class InvitesScreen(WizardScreen[None]):
    TITLE_TEXT = "Invites"
    HELP = """\
# Invites

Accounts that have not been invited to the volunteer-hours site yet. **e** writes them to a CSV
file (email, first name, last name, family) for a mail merge; **i** marks them invited so the
next list only shows newcomers.
"""
    EXPLAIN = (
        "These accounts were never invited. Export them to a CSV file for the invitation email, "
        "then mark them invited."
    )

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back", tooltip="Back"),
        Binding("e", "export", "Export CSV", id="invites.export",
                tooltip="Write the list to a CSV file"),
        Binding("i", "mark", "Mark invited", id="invites.mark",
                tooltip="Mark everyone listed as invited"),
    ]

    def __init__(self, services: Services, site: str) -> None:
        super().__init__(services, site)
        self.invites: list[acc.Invite] = []

    def body(self) -> ComposeResult:
        yield Static(id="invites-title", classes="totals")
        yield LazyTable(INVITE_COLUMNS, invite_cells, id="invites", select_on_enter=False,
                        empty="Everyone has been invited.")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#invites", LazyTable).focus()
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def load(self) -> None:
        site = get_site(self.services.store, self.flow.site)
        invites = acc.pending_invites(site)
        self.app.call_from_thread(self._loaded, invites)

    def _loaded(self, invites: list[acc.Invite]) -> None:
        self.invites = invites
        self.query_one("#invites", LazyTable).set_rows(invites)
        t = Text(f"{plural(len(invites), 'account')} not invited yet", style="bold")
        self.query_one("#invites-title", Static).update(t)

    def action_export(self) -> None:
        if not self.invites:
            self.notify("Nobody to invite.")
            return
        self._export(list(self.invites))

    @work(thread=True, exclusive=True, group="export", exit_on_error=False)
    def _export(self, invites: list[acc.Invite]) -> None:
        path = write_invites(self.services, self.flow.site, invites)
        self.app.call_from_thread(self.notify, f"{plural(len(invites), 'invite')} written to "
                                  f"{path}", markup=False)

    def action_mark(self) -> None:
        if not self.invites:
            return
        invites = list(self.invites)

        def answered(yes: bool | None) -> None:
            if yes:
                self._mark(invites)

        self.app.push_screen(
            ConfirmScreen("Mark invited?",
                          Text(f"Mark {plural(len(invites), 'account')} as invited?"),
                          yes="Mark invited"),
            answered,
        )

    @work(thread=True, exclusive=True, group="mark", exit_on_error=False)
    def _mark(self, invites: list[acc.Invite]) -> None:
        site = get_site(self.services.store, self.flow.site)
        n = acc.mark_invited(site, invites)
        self.app.call_from_thread(self.notify, f"{plural(n, 'account')} marked invited.")
        self.load()
