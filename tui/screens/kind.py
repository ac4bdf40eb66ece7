"""Roster kind: students or parents (one kind per site), and a key to add a site for the other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from core.sites import SiteError, get_site
from core.sync import service
from tui import navigation
from tui.screens.base import WizardScreen
from tui.services import Services, error_text

KINDS = ("parents", "students")
PROMPTS = {
    "parents": (
        "Parents",
        "One account per parent of a matching student. You choose which parents count "
        "(all, mothers & fathers, listed first, custodial) and can include or exclude anyone "
        "per family.",
    ),
    "students": (
        "Students",
        "One account per matching student. Many students have no email in FACTS: they are "
        "listed so you can decide (skip, or use their second email).",
    ),
}


@dataclass(frozen=True)
class KindState:
    fixed: str | None
    """The kind the site rosters since its first sync (cannot change)."""
    chosen: str | None


class KindScreen(WizardScreen[None]):
    TITLE_TEXT = "Who to roster"
    STEP = "Kind"
    HELP = """\
# Roster kind

A site rosters **students** or **parents**, never both: the volunteer-hours site gives each kind
its own accounts, rules and reports. A school that wants both creates a **second site** for the
other kind (press **n**). Once a site has synced, its kind is fixed.
"""
    EXPLAIN = (
        "Choose who becomes an account on this site: the students, or their parents. One site "
        "holds one kind; press n to create a second site for the other kind."
    )

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back", tooltip="Back to Connect"),
        Binding("enter", "next", "Next", id="next", tooltip="Save the kind and read FACTS"),
        Binding("p", "pick('parents')", "Parents", id="kind.parents", tooltip="Roster parents"),
        Binding("s", "pick('students')", "Students", id="kind.students",
                tooltip="Roster students"),
        Binding("n", "second_site", "Second site", id="kind.second",
                tooltip="Create another site for the other kind"),
    ]

    chosen: reactive[str | None] = reactive(None, bindings=True)

    def __init__(self, services: Services, site: str) -> None:
        super().__init__(services, site)
        self.fixed: str | None = None

    def body(self) -> ComposeResult:
        yield Static(id="kind-rule", classes="note")
        yield OptionList(markup=False, id="kinds")

    def on_mount(self) -> None:
        super().on_mount()
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def load(self) -> None:
        store = self.services.store
        site = get_site(store, self.flow.site)
        setup = service.load_setup(store, site)
        state = KindState(site.kind, site.kind or (setup.kind if setup else None))
        self.app.call_from_thread(self._loaded, state)

    def _loaded(self, state: KindState) -> None:
        self.fixed = state.fixed
        options = self.query_one("#kinds", OptionList)
        options.clear_options()
        for kind in KINDS:
            title, text = PROMPTS[kind]
            prompt = Text(title, style="bold", end="")
            prompt.append("\n")
            prompt.append(text, style="dim")
            disabled = state.fixed is not None and state.fixed != kind
            if disabled:
                prompt.append(f"\n(this site rosters {state.fixed} since its first sync)",
                              style="italic")
            options.add_option(Option(prompt, id=kind, disabled=disabled))
        rule = Text("One kind per site. ", style="bold", end="")
        rule.append("A site rosters students or parents, never both; a school that wants both "
                    "adds a second site ")
        rule.append(" n ", style="reverse")
        rule.append(".")
        if state.fixed:
            rule.append(f"\nThis site has synced as a {state.fixed} site: its kind is fixed.",
                        style="yellow")
        self.query_one("#kind-rule", Static).update(rule)
        self.chosen = state.chosen
        if state.chosen in KINDS:
            options.highlighted = KINDS.index(state.chosen)
        options.focus()

    @on(OptionList.OptionHighlighted, "#kinds")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id in KINDS:
            self.chosen = event.option.id

    @on(OptionList.OptionSelected, "#kinds")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id in KINDS:
            self.chosen = event.option.id
            self.action_next()

    def action_pick(self, kind: str) -> None:
        if self.fixed is not None and self.fixed != kind:
            self.notify(f"This site rosters {self.fixed}: press n for a second site.",
                        severity="warning")
            return
        self.chosen = kind
        self.query_one("#kinds", OptionList).highlighted = KINDS.index(kind)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next":
            return True if self.chosen in KINDS else None
        return True

    def action_next(self) -> None:
        if self.chosen not in KINDS:
            return
        self._save(self.chosen)

    @work(thread=True, exclusive=True, exit_on_error=False)
    def _save(self, kind: str) -> None:
        store = self.services.store
        try:
            service.save_setup(store, self.flow.site, kind=kind)
        except SiteError as err:
            self.app.call_from_thread(self.notify, error_text(err), severity="error",
                                      markup=False)
            return
        flow = self.flow
        if flow.roster is not None and flow.roster.kind != kind:
            flow.roster = None
        flow.forget_plan()
        self.app.call_from_thread(self._go)

    def _go(self) -> None:
        screen = navigation.screen_for(self.services, self.flow.site, "fetch")
        if screen is not None:
            self.app.push_screen(screen)

    def action_second_site(self) -> None:
        from tui.screens.new_site import NewSite, NewSiteScreen

        other = "students" if (self.fixed or self.chosen) == "parents" else "parents"

        def created(result: NewSite | None) -> None:
            if result is None:
                return
            self.fs_app.site = result.name
            self.notify(
                f"Site {result.name!r} created for {result.kind or other}. Connect it to FACTS "
                "next (the keys are per site).",
                markup=False,
            )
            navigation.go_home(self.fs_app)
            screen = navigation.screen_for(self.services, result.name, "connect")
            if screen is not None:
                self.app.push_screen(screen)

        name = f"{self.flow.site} ({other})"
        self.app.push_screen(NewSiteScreen(self.services, name=name, kind=other), created)

