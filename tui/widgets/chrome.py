"""The frame every step shares: a header with the site and the steps, and the walkthrough panel."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from tui.flow import FLOW, StepId
from tui.widgets.safe_text import safe_text


class StepHeader(Static):
    """`factsync · <site> · Step 4/8 Criteria`, and the steps with the current one marked."""

    DEFAULT_CSS = """
    StepHeader {
        height: 2;
        background: $panel;
        padding: 0 1;
    }
    """

    def __init__(self, title: str, site: str | None, step: StepId | None) -> None:
        super().__init__()
        self.title_text = title
        self.site = site
        self.step = step

    def on_mount(self) -> None:
        self.update(self._content())

    def _content(self) -> Text:
        top = Text(no_wrap=True, overflow="ellipsis", end="")
        top.append("factsync", style="bold")
        if self.site:
            top.append(" · ")
            top.append_text(safe_text(self.site, 30, style="bold"))
        top.append(" · ")
        ids = [st.id for st in FLOW]
        here = ids.index(self.step) if self.step in ids else None
        if here is not None:
            top.append(f"Step {here + 1}/{len(FLOW)} ", style="dim")
        top.append(self.title_text, style="bold")
        line = Text(no_wrap=True, overflow="ellipsis", end="")
        if here is not None:
            for i, st in enumerate(FLOW):
                if i:
                    line.append(" › ", style="dim")
                style = "bold reverse" if i == here else ("" if i < here else "dim")
                line.append(st.title, style=style)
        else:
            back = "" if self.step is StepId.HOME else "Esc back · "
            line.append(f"{back}F1 help · F2 walkthrough · Ctrl+P commands", style="dim")
        top.append("\n")
        top.append_text(line)
        return top


class KeyStrip(Static):
    """The keys just pressed, newest last, with what they did."""

    DEFAULT_CSS = """
    KeyStrip { height: 1; color: $text-muted; }
    """

    def show(self, keys: Sequence[str]) -> None:
        """The newest keys that fit, oldest on the left (older ones drop off the left edge)."""
        room = (self.size.width or 80) - 7
        kept: list[str] = []
        for key in reversed(keys):
            need = len(key) + 4
            if kept and need > room:
                break
            kept.insert(0, key)
            room -= need
        text = Text("Keys: ", style="bold", no_wrap=True, overflow="ellipsis", end="")
        for i, key in enumerate(kept):
            if i:
                text.append("  ")
            text.append(f" {key} ", style="reverse")
        self.update(text)


class WalkthroughPanel(Vertical):
    """On every step when the walkthrough is on: the step in plain words and the keys strip."""

    DEFAULT_CSS = """
    WalkthroughPanel {
        height: auto;
        max-height: 7;
        border-top: heavy $accent;
        background: $boost;
        padding: 0 1;
        display: none;
    }
    WalkthroughPanel #explain { height: auto; max-height: 5; }
    """

    def __init__(self, explain: str) -> None:
        super().__init__()
        self.explain = explain

    def compose(self) -> ComposeResult:
        yield Static(Text(self.explain), id="explain")
        yield KeyStrip()
