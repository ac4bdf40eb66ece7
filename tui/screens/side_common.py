"""Shared parts of the side screens (Accounts, Hours, Write-back, History, Families)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar, Literal

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.coordinate import Coordinate
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Static

from core.sites import get_site
from store import Store
from store.models import Site
from tui.widgets.safe_text import safe_text

__all__ = [
    "Col",
    "ConfirmScreen",
    "FitTable",
    "HelpScreen",
    "SideScreen",
    "fit_widths",
    "num",
    "outbox_line",
    "when",
]


def when(value: datetime | date | None) -> str:
    """A stored UTC time as ``YYYY-MM-DD HH:MM`` (dates as ``YYYY-MM-DD``); blank for None."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def num(value: float | int, style: str = "") -> Text:
    """A right-aligned number (hours with up to 2 decimals)."""
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return Text(text, style=style, justify="right", no_wrap=True, end="")


def outbox_line(counts: dict[str, int]) -> Text:
    """``Write-back outbox: 1 pending · 0 unconfirmed · 3 sent · 0 failed``."""
    text = Text("Write-back outbox: ", style="bold")
    parts = [("pending", "yellow"), ("unconfirmed", ""), ("sent", "green"), ("failed", "red")]
    for i, (name, style) in enumerate(parts):
        if i:
            text.append(" · ")
        n = counts.get(name, 0)
        text.append(f"{n} {name}", style=style if n else "")
    return text


# --- a table whose columns fill its width ----------------------------------------------------


@dataclass(frozen=True)
class Col:
    """A column: a fixed ``width``, or flexible (``width`` 0) sharing what is left by ``ratio``."""

    key: str
    label: str
    width: int = 0
    ratio: int = 1
    min_width: int = 4
    justify: Literal["left", "right"] = "left"
    hide_below: int = 0
    """Left out when the table is narrower than this (80 columns keep the essentials)."""


def fit_widths(columns: Sequence[Col], total: int, padding: int = 1) -> list[int]:
    """Content widths for ``columns`` in ``total`` cells (each column also takes 2*padding)."""
    pads = 2 * padding * len(columns)
    fixed = sum(c.width for c in columns if c.width)
    flex = [c for c in columns if not c.width]
    left = max(0, total - pads - fixed)
    ratios = sum(c.ratio for c in flex) or 1
    widths: list[int] = []
    given = 0
    seen = 0
    for c in columns:
        if c.width:
            widths.append(c.width)
            continue
        seen += 1
        w = left - given if seen == len(flex) else left * c.ratio // ratios
        w = max(c.min_width, w)
        given += w
        widths.append(w)
    return widths


class FitTable(DataTable[Any]):
    """A row-cursor DataTable whose columns always fill its width, so nothing is cut off.

    Cells are ``rich.text.Text`` (from ``safe_text``): a ``str`` cell would be read as markup.
    Rows are kept here as ``(key, cells)`` so a resize can lay the columns out again.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("home", "scroll_top", "First row", show=False),
        Binding("end", "scroll_bottom", "Last row", show=False),
    ]

    DEFAULT_CSS = """
    FitTable {
        height: 1fr;
        scrollbar-gutter: stable;
        scrollbar-size-vertical: 1;
        overflow-x: hidden;
    }
    """

    def __init__(self, columns: Sequence[Col], *, id: str | None = None) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, id=id)
        self.fit_columns = tuple(columns)
        self._shown: list[int] = []
        self._widths: list[int] = []
        self._data_rows: list[tuple[str, list[Text]]] = []

    def on_mount(self) -> None:
        self._layout()

    def on_resize(self, event: events.Resize) -> None:
        self._layout()

    def _layout(self) -> None:
        total = max(20, self.size.width - 1)
        shown = [i for i, c in enumerate(self.fit_columns) if total >= c.hide_below]
        widths = fit_widths([self.fit_columns[i] for i in shown], total)
        if widths == self._widths and shown == self._shown:
            return
        self._shown, self._widths = shown, widths
        self._rebuild()

    def _rebuild(self) -> None:
        row = self.cursor_row
        self.clear(columns=True)
        for i, width in zip(self._shown, self._widths, strict=True):
            col = self.fit_columns[i]
            label = Text(col.label, justify=col.justify, no_wrap=True, overflow="ellipsis")
            self.add_column(label, width=width, key=col.key)
        for key, cells in self._data_rows:
            self.add_row(*(cells[i] for i in self._shown), key=key)
        if self._data_rows:
            self.move_cursor(row=min(row, len(self._data_rows) - 1), animate=False)

    def set_data(self, rows: Sequence[tuple[str, list[Text]]]) -> None:
        """Show these rows (the cursor stays on its index when it can)."""
        self._data_rows = list(rows)
        if self._widths:
            self._rebuild()

    def set_cell(self, key: str, column: str, value: Text) -> None:
        """Change one cell in place."""
        for i, (k, cells) in enumerate(self._data_rows):
            if k == key:
                index = [c.key for c in self.fit_columns].index(column)
                cells[index] = value
                self._data_rows[i] = (k, cells)
                break
        if self._widths and column in {self.fit_columns[i].key for i in self._shown}:
            self.update_cell(key, column, value)

    @property
    def current_key(self) -> str | None:
        """The key of the row under the cursor, None when the table is empty."""
        if not self._data_rows or not self.is_valid_row_index(self.cursor_row):
            return None
        row_key, _ = self.coordinate_to_cell_key(Coordinate(self.cursor_row, 0))
        return row_key.value


# --- dialogs ---------------------------------------------------------------------------------


class ConfirmScreen(ModalScreen[bool]):
    """Ask yes or no; ``dismiss(True)`` only on an explicit yes (Enter on "No" says no)."""

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: 70; max-width: 95%; height: auto; max-height: 90%;
        border: thick $warning; background: $surface; padding: 1 2;
    }
    ConfirmScreen .confirm-title { text-style: bold; margin-bottom: 1; }
    ConfirmScreen .confirm-body { height: auto; max-height: 14; }
    ConfirmScreen Horizontal { height: auto; margin-top: 1; align-horizontal: right; }
    ConfirmScreen Button { margin-left: 2; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes", tooltip="Go ahead"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no", tooltip="Change nothing"),
    ]

    def __init__(self, title: str, body: Text, *, yes: str = "Yes") -> None:
        super().__init__()
        self._title = title
        self._body = body
        self._yes = yes

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self._title), classes="confirm-title")
            with VerticalScroll(classes="confirm-body"):
                yield Static(self._body)
            with Horizontal():
                yield Button(f"{self._yes} (y)", variant="warning", id="yes")
                yield Button("No (n)", variant="primary", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class HelpScreen(ModalScreen[None]):
    """A short help text for one screen; Escape, F1 or Enter closes it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 76; max-width: 95%; height: auto; max-height: 90%;
        border: thick $accent; background: $surface; padding: 1 2;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f1,enter,q", "close", "Close", id="help.close", tooltip="Close the help"),
    ]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self._title = title
        self._text = text

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(Text(self._title, style="bold"))
            yield Static(Text(self._text))

    def action_close(self) -> None:
        self.dismiss(None)


# --- the base screen -------------------------------------------------------------------------


class SideScreen(Screen[None]):
    """A screen beside the wizard flow: a title line with the site, Escape back, F1 help."""

    SCREEN_TITLE: ClassVar[str] = ""
    HELP: ClassVar[str] = ""

    DEFAULT_CSS = """
    SideScreen .side-title {
        height: 1; padding: 0 1; background: $primary; color: $text; text-style: bold;
    }
    SideScreen .side-line { height: auto; max-height: 3; padding: 0 1; }
    SideScreen .side-note { height: 1; padding: 0 1; color: $text-muted; }
    SideScreen Input { margin: 0 1; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="side.back", tooltip="Back to the previous screen"),
        Binding("f1", "help", "Help", id="side.help", tooltip="What this screen does"),
    ]

    def __init__(self, store: Store, site: Site | str) -> None:
        super().__init__()
        self.store = store
        self.site: Site = get_site(store, site) if isinstance(site, str) else site

    def title_line(self) -> Static:
        text = Text(f"{self.SCREEN_TITLE} · site ")
        text.append_text(safe_text(self.site.name, 60))
        return Static(text, classes="side-title")

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(f"{self.SCREEN_TITLE}: help", self.HELP))
