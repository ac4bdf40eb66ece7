"""Small modal dialogs: pick one of several choices, or confirm an action explicitly."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, OptionList, Static
from textual.widgets.option_list import Option


class ChoiceScreen(ModalScreen[int | None]):
    """A question and a list of choices; dismisses with the chosen index (None: cancelled)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="choice.cancel", tooltip="Decide later"),
    ]

    def __init__(
        self,
        title: str,
        body: Text,
        choices: Sequence[Text],
        *,
        disabled: Sequence[bool] = (),
    ) -> None:
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
                *[
                    Option(choice, id=f"choice-{i}", disabled=self.off[i])
                    for i, choice in enumerate(self.choices)
                ],
                markup=False,
                id="choices",
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


class ConfirmScreen(ModalScreen[bool]):
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
                yield Button(self.no, id="no", variant="primary", compact=True)
                yield Button(f"{self.yes} (y)", id="yes", variant="error", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
