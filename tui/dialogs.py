"""Every dialog of the app: confirm, choose one of several, help (F1), type a line, a new site.

One look and one set of keys for all of them: Escape always means no / cancel, the safe answer
has the focus, ``y`` confirms. Each has its own footer, and its buttons stay on screen down to
60x20 (the body scrolls instead).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import (
    Button,
    Footer,
    Input,
    Label,
    OptionList,
    RadioButton,
    RadioSet,
    Static,
)
from textual.widgets.option_list import Option


class ChoiceDialog(ModalScreen[int | None]):
    """A question and a list of choices; dismisses with the chosen index (None: cancelled)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="choice.cancel", tooltip="Decide later"),
    ]

    def __init__(self, title: str, body: Text, choices: Sequence[Text], *,
                 disabled: Sequence[bool] = ()) -> None:
        super().__init__()
        self.title_text = title
        self.body_text = body
        self.choices = list(choices)
        self.off = list(disabled) + [False] * (len(self.choices) - len(disabled))

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.title_text, style="bold"), classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                yield Static(self.body_text)
            yield OptionList(
                *[Option(choice, id=f"choice-{i}", disabled=self.off[i])
                  for i, choice in enumerate(self.choices)],
                markup=False, id="choices",
            )
            yield Static(Text("↑↓ choose · Enter confirm · Esc cancel", style="dim"))
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#choices", OptionList).focus()

    @on(OptionList.OptionSelected, "#choices")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option_index)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmDialog(ModalScreen[bool]):
    """An explicit yes/no: the safe answer has the focus; ``y`` or the button confirms."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n", "answer(False)", "Cancel", id="confirm.no", tooltip="Do nothing"),
        Binding("y", "answer(True)", "Yes", id="confirm.yes", tooltip="Confirm"),
    ]

    def __init__(self, title: str, body: Text, *, yes: str = "Yes", no: str = "Cancel") -> None:
        super().__init__()
        self.title_text = title
        self.body_text = body
        self.yes = yes
        self.no = no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.title_text, style="bold"), classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                yield Static(self.body_text)
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.no} (n)", id="no", variant="primary", compact=True)
                yield Button(f"{self.yes} (y)", id="yes", variant="error", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class TextPrompt(ModalScreen[str | None]):
    """One line of text (Enter gives it, Escape cancels)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="prompt.cancel", tooltip="Close, change nothing"),
    ]

    def __init__(self, title: str, label: str, *, value: str = "", placeholder: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.label = label
        self.value = value
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.title_text, style="bold"), classes="dialog-title")
            yield Label(self.label)
            yield Input(self.value, placeholder=self.placeholder, id="prompt")
            yield Static(Text("Enter gives it · Esc cancels", style="dim"))
        yield Footer()

    @on(Input.Submitted, "#prompt")
    def _given(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


def keys_text(screen: Screen[object]) -> Text:
    """The keys of ``screen`` (its own and its widgets'), with their descriptions."""
    t = Text(end="")
    seen: set[str] = set()
    for _key, active in screen.active_bindings.items():
        binding = active.binding
        # factsync's own keys carry an id; Textual's generic ones (scrolling, copy) do not
        if not binding.description or not binding.id or binding.system:
            continue
        if binding.action in seen:
            continue
        seen.add(binding.action)
        label = screen.app.get_key_display(binding)
        t.append(f"{label:>10}  ", style="bold")
        t.append(binding.description)
        if binding.tooltip and binding.tooltip != binding.description:
            t.append(f" — {binding.tooltip}", style="dim")
        if not active.enabled:
            t.append(" (not now)", style="dim")
        t.append("\n")
    return t


class HelpDialog(ModalScreen[None]):
    """Help for the screen below: its ``HELP`` text and its keys. F1 or Escape closes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f1,q", "close", "Close", id="help.close", tooltip="Close the help"),
    ]

    def __init__(self, screen: Screen[object]) -> None:
        super().__init__()
        self.target = screen

    def compose(self) -> ComposeResult:
        from textual.widgets import Markdown  # loads markdown-it: only when help is asked for

        help_text = getattr(self.target, "HELP", "") or "# Help\n\nNo help for this screen."
        with Vertical(classes="dialog help-dialog"):
            with VerticalScroll(classes="help-body"):
                yield Markdown(str(help_text))
                yield Static(Text("Keys", style="bold"))
                yield Static(keys_text(self.target))
                yield Static(Text(
                    "Everywhere: F1 help · F2 walkthrough (explains each step and shows the keys "
                    "pressed, for a shared screen) · Ctrl+P every screen and action · Ctrl+Q quit",
                    style="dim"))
            yield Static(Text("Esc or F1 closes · ↑↓ scroll", style="dim"), classes="dialog-end")
        yield Footer()

    def action_close(self) -> None:
        self.dismiss()


@dataclass(frozen=True)
class NewSite:
    name: str
    plan: str
    kind: str | None


class NewSiteDialog(ModalScreen[NewSite | None]):
    """Ask for a site's name, plan and kind; the caller creates it (and says why it could not)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="new.cancel", tooltip="Close without creating"),
        Binding("ctrl+s", "create", "Create", id="new.create", tooltip="Create the site"),
    ]

    def __init__(self, *, name: str = "", kind: str | None = None, error: str = "") -> None:
        super().__init__()
        self.initial_name = name
        self.initial_kind = kind
        self.error = error

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
                yield RadioButton("Parents", value=self.initial_kind == "parents",
                                  id="kind-parents")
                yield RadioButton("Students", value=self.initial_kind == "students",
                                  id="kind-students")
                yield RadioButton("Decide later", value=self.initial_kind is None,
                                  id="kind-later")
            yield Static(Text(self.error), id="error", classes="error")
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
        self.dismiss(NewSite(name, plan, kind))
