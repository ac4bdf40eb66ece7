"""Roster kind: students or parents (one kind per site), and a key to add a site for the other."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from core.workspace import KindState
from tui.dialogs import NewSite, NewSiteDialog
from tui.flow import StepId
from tui.screens.base import FactsyncScreen
from tui.services import Services

KINDS = ("parents", "students")
KEYS = {"parents": "p", "students": "s"}
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


class KindScreen(FactsyncScreen[None]):
    TITLE_TEXT = "Who to roster"
    STEP = StepId.KIND
    HELP = """\
# Roster kind

A site rosters **students** or **parents**, never both: the volunteer-hours site gives each kind
its own accounts, rules and reports. A school that wants both creates a **second site** for the
other kind (press **n**). Once a site has synced, its kind is fixed.
"""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back", tooltip="Back to Connect"),
        Binding("enter", "next", "Next", id="next", tooltip="Save the highlighted kind and read FACTS",
                priority=True),
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

    def load(self) -> None:
        self.run_core(self.core.kind_state, self.flow.site, then=self._loaded)

    def _loaded(self, state: KindState) -> None:
        self.fixed = state.fixed
        options = self.query_one("#kinds", OptionList)
        options.clear_options()
        for kind in KINDS:
            title, text = PROMPTS[kind]
            prompt = Text(f" {KEYS[kind]} ", style="reverse", end="")
            prompt.append(f" {title}", style="bold")
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
        # the current choice is highlighted (the first allowed one on a first visit), so Enter
        # always has something to go on with and the footer shows it
        chosen = state.chosen if state.chosen in KINDS else (state.fixed or KINDS[0])
        self.chosen = chosen
        options.highlighted = KINDS.index(chosen)
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

    def _save(self, kind: str) -> None:
        self.run_core(self.core.save_kind, self.flow.site, kind, then=lambda _: self._go(kind))

    def _go(self, kind: str) -> None:
        flow = self.flow
        if flow.roster is not None and flow.roster.kind != kind:
            flow.roster = None
        flow.forget_plan()
        self.next_step()

    def action_second_site(self) -> None:
        other = "students" if (self.fixed or self.chosen) == "parents" else "parents"

        def created(name: str) -> None:
            self.app.site = name  # type: ignore[attr-defined]
            self.notify(f"Site {name!r} created for {other}. Connect it to FACTS next (the keys "
                        "are per site).", markup=False)
            self.navigator.go_home()
            self.navigator.open_step(StepId.CONNECT, name)

        def answered(result: NewSite | None) -> None:
            if result is not None:
                self.run_core(self.core.add_site, result.name, result.plan, result.kind or other,
                              then=created)

        name = f"{self.flow.site} ({other})"
        self.app.push_screen(NewSiteDialog(name=name, kind=other), answered)
