"""A drill-down: the rows behind a count (plan items with reasons, a run's changes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input, Static

from tui.flow import StepId
from tui.screens.base import FactsyncScreen
from tui.services import Services
from tui.widgets.lazy_table import CellsFn, Column, LazyTable
from tui.widgets.safe_text import safe_text


class DrillScreen(FactsyncScreen[None]):
    """A filterable table of rows; Escape returns to the screen it was opened from."""

    STEP = StepId.DETAILS
    TITLE_TEXT = "Details"
    HELP = """\
# Details

The rows behind a number, each with its reason. Type **/** to filter, Escape to go back.
"""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back", tooltip="Back"),
        Binding("slash", "filter", "Filter", id="drill.filter", tooltip="Filter the rows"),
    ]

    def __init__(
        self,
        services: Services,
        site: str | None,
        title: str,
        columns: Sequence[Column],
        cells: CellsFn,
        rows: Sequence[Any],
        *,
        haystack: CellsFn | None = None,
        note: Text | None = None,
    ) -> None:
        super().__init__(services, site)
        self.title_text = title
        self.columns = columns
        self.cells = cells
        self.all_rows = list(rows)
        self.haystack = haystack
        self.note = note

    def header_title(self) -> str:
        return self.title_text

    def body(self) -> ComposeResult:
        yield Static(self.note or Text(f"{len(self.all_rows):,} rows", style="dim"),
                     id="drill-note")
        yield Input(placeholder="filter…", id="drill-filter", classes="filter")
        yield LazyTable(self.columns, self.cells, self.all_rows, id="drill-table",
                        empty="Nothing here.")
        yield Static(id="drill-detail", classes="detail")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#drill-filter", Input).display = False
        self.query_one(LazyTable).focus()
        self._detail()

    @on(LazyTable.Highlighted)
    def _detail(self) -> None:
        """The highlighted row in full (the table cuts long reasons)."""
        row = self.query_one(LazyTable).current
        text = Text(end="")
        if row is not None:
            for i, cell in enumerate(self.cells(row)):
                plain = cell.plain if isinstance(cell, Text) else str(cell)
                if plain:
                    text.append(" · " if i and text.plain else "")
                    text.append(plain, style="bold" if i == 0 else "")
        self.query_one("#drill-detail", Static).update(safe_text(text.plain, 400, wrap=True))

    def action_filter(self) -> None:
        box = self.query_one("#drill-filter", Input)
        box.display = True
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        needle = event.value.strip().casefold()
        text_of = self.haystack or self.cells
        rows = [
            r for r in self.all_rows
            if not needle or needle in " ".join(
                c.plain if isinstance(c, Text) else str(c) for c in text_of(r)
            ).casefold()
        ]
        self.query_one(LazyTable).set_rows(rows, keep_cursor=False)

    def on_input_submitted(self) -> None:
        self.query_one(LazyTable).focus()
