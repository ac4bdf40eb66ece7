"""F1: what the current step is for, in words, and every key it answers to."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Markdown, Static


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


class HelpScreen(ModalScreen[None]):
    """Help for the screen below: its ``HELP`` text and its keys. F1 or Escape closes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f1,q", "close", "Close", id="help.close", tooltip="Close the help"),
    ]

    def __init__(self, screen: Screen[object]) -> None:
        super().__init__()
        self.target = screen

    def compose(self) -> ComposeResult:
        help_text = getattr(self.target, "HELP", "") or "# Help\n\nNo help for this screen."
        with Vertical(classes="dialog help-dialog"):
            with VerticalScroll():
                yield Markdown(str(help_text))
                yield Static(Text("Keys", style="bold"))
                yield Static(keys_text(self.target))
                yield Static(Text(
                    "Everywhere: F1 help · F2 walkthrough (explains each step and shows the keys "
                    "pressed, for a shared screen) · Ctrl+P every screen and action · Ctrl+Q quit",
                    style="dim"))
            yield Static(Text("Esc or F1 closes", style="dim"))

    def action_close(self) -> None:
        self.dismiss()
