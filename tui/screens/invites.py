"""New accounts to invite: the list, export to CSV, mark invited (also shown after a sync)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from tui.dialogs import ConfirmDialog
from tui.flow import StepId
from tui.screens.base import FactsyncScreen
from tui.services import Services, plural
from tui.widgets.lazy_table import Column, LazyTable
from tui.widgets.safe_text import safe_text

if TYPE_CHECKING:
    from core.accounts import Invite

INVITE_COLUMNS = (Column("Email", ratio=4), Column("First name", ratio=2),
                  Column("Last name", ratio=2), Column("Family", width=8, hide_below=70))


def invite_cells(inv: Invite) -> list[str | Text]:
    return [safe_text(inv.email), safe_text(inv.first_name), safe_text(inv.last_name),
            safe_text(inv.family)]


def invites_title(invites: list[Invite]) -> Text:
    t = Text(f"New accounts to invite ({len(invites):,})", style="bold", end="")
    if invites:
        t.append("   e export CSV · i mark invited", style="dim")
    return t


class InvitesActions(FactsyncScreen[None]):
    """Export and mark-invited, the same on the Sync result and the Invites screen."""

    invites: list[Invite]

    def invites_changed(self, invites: list[Invite]) -> None:
        """Show the new list (after marking)."""
        self.invites = invites
        self.query_one("#invites", LazyTable).set_rows(invites, keep_cursor=False)
        self.query_one("#invites-title", Static).update(invites_title(invites))
        self.refresh_bindings()

    def action_export(self) -> None:
        invites = list(self.invites)
        if not invites:
            self.notify("Nobody to invite.")
            return

        def written(path: object) -> None:
            self.notify(f"{plural(len(invites), 'invite')} written to {path}", markup=False)

        self.run_core(self.core.write_invites, self.flow.site, invites, then=written,
                      group="export")

    def action_mark(self) -> None:
        invites = list(self.invites)
        if not invites:
            return

        def marked(result: tuple[int, list[Invite]]) -> None:
            n, left = result
            self.invites_changed(left)
            self.notify(f"{plural(n, 'account')} marked invited.")

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_core(self.core.mark_invited, self.flow.site, invites, then=marked,
                              group="mark")

        self.app.push_screen(
            ConfirmDialog("Mark invited?",
                          Text(f"Mark {plural(len(invites), 'account')} as invited?"),
                          yes="Mark invited"),
            answered,
        )


class InvitesScreen(InvitesActions):
    STEP = StepId.INVITES
    TITLE_TEXT = "Invites"
    HELP = """\
# Invites

Accounts a sync created that have not been invited to the volunteer-hours site yet (accounts
that existed before, typed in by hand, are never listed). **e** writes them to a CSV file
(email, first name, last name, family) for a mail merge; **i** marks them invited so the next
list only shows newcomers.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back", tooltip="Back"),
        Binding("e", "export", "Export CSV", id="invites.export",
                tooltip="Write the list to a CSV file"),
        Binding("i", "mark", "Mark invited", id="invites.mark",
                tooltip="Mark everyone listed as invited"),
    ]

    def __init__(self, services: Services, site: str) -> None:
        super().__init__(services, site)
        self.invites = []

    def body(self) -> ComposeResult:
        yield Static(id="invites-title", classes="totals")
        yield LazyTable(INVITE_COLUMNS, invite_cells, id="invites", select_on_enter=False,
                        empty="Everyone has been invited.")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#invites", LazyTable).focus()
        self.run_core(self.core.invites, self.flow.site, then=self.invites_changed)
