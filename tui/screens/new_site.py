"""Create a site: a name, the site's plan, and (for advanced sites) the roster kind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, RadioButton, RadioSet, Static

from core.sites import SiteError, add_site
from core.sync import service
from tui.services import Services, error_text


@dataclass(frozen=True)
class NewSite:
    name: str
    kind: str | None


class NewSiteScreen(ModalScreen[NewSite | None]):
    """Ask for a site's name, plan and kind; dismiss with the created site (None: cancelled)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="new.cancel", tooltip="Close without creating"),
        Binding("ctrl+s", "create", "Create", id="new.create", tooltip="Create the site"),
    ]

    def __init__(self, services: Services, *, name: str = "", kind: str | None = None) -> None:
        super().__init__()
        self.services = services
        self.initial_name = name
        self.initial_kind = kind

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(Text("New site", style="bold"), classes="dialog-title")
            yield Label("Name")
            yield Input(self.initial_name, placeholder="e.g. Lincoln Elementary PTA", id="name")
            yield Label("Site plan (the FACTS integration needs Advanced)")
            with RadioSet(id="plan"):
                yield RadioButton("Advanced", value=True, id="plan-advanced")
                yield RadioButton("Basic", id="plan-basic")
            yield Label("Who this site rosters (one kind per site)")
            with RadioSet(id="kind"):
                yield RadioButton("Parents", value=self.initial_kind == "parents", id="kind-parents")
                yield RadioButton("Students", value=self.initial_kind == "students",
                                  id="kind-students")
                yield RadioButton("Decide later", value=self.initial_kind is None, id="kind-later")
            yield Static(id="error", classes="error")
            yield Static(Text("Enter or Ctrl+S creates · Esc cancels", style="dim"))
        yield Footer()

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_create()

    def action_create(self) -> None:
        name = self.query_one("#name", Input).value.strip()
        if not name:
            self.query_one("#error", Static).update(Text("A site needs a name."))
            self.query_one("#name", Input).focus()
            return
        plan_button = self.query_one("#plan", RadioSet).pressed_button
        plan = "basic" if plan_button is not None and plan_button.id == "plan-basic" else "advanced"
        kind_button = self.query_one("#kind", RadioSet).pressed_button
        kind = None
        if kind_button is not None and kind_button.id in ("kind-parents", "kind-students"):
            kind = kind_button.id.removeprefix("kind-")
        self._create(name, plan, kind)

    @work(thread=True, exclusive=True, exit_on_error=False)
    def _create(self, name: str, plan: str, kind: str | None) -> None:
        store = self.services.store
        try:
            site = add_site(store, name, plan)
            if kind is not None and plan == "advanced":
                service.save_setup(store, site, kind=kind)
        except SiteError as err:
            self.app.call_from_thread(self._failed, error_text(err))
            return
        self.app.call_from_thread(self.dismiss, NewSite(site.name, kind))

    def _failed(self, message: str) -> None:
        self.query_one("#error", Static).update(Text(message))
