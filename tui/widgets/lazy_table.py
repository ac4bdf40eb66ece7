"""The one table of the app, windowed: renders only the visible rows (30,000 accounts open at once).

Textual's DataTable measures every cell when rows are added (seconds for tens of thousands of
rows, style.md "Big grids"). ``LazyTable`` keeps a plain sequence of rows and a function that
turns one row into cells; ``render_line`` builds just the lines on screen (the Line API, as in
Toolong's ``log_lines.py``). Filtering and sorting stay with the caller: it hands a new sequence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.widgets.safe_text import safe_text, text_only, text_segments

Cell = str | Text
CellsFn = Callable[[Any], Sequence[Cell]]
StyleFn = Callable[[Any], str]


@dataclass(frozen=True)
class Column:
    """A column: a fixed ``width``, or flexible (``width`` 0) sharing what is left by ``ratio``."""

    label: str
    width: int = 0
    ratio: int = 1
    justify: Literal["left", "right"] = "left"
    min_width: int = 6
    hide_below: int = 0
    """Left out when the table is narrower than this many cells (80 columns keep the essentials)."""


def layout_columns(columns: Sequence[Column], total: int, gap: int = 1) -> list[int]:
    """Widths for ``columns`` in ``total`` cells: fixed ones first, flexible ones share the rest."""
    fixed = sum(c.width for c in columns if c.width)
    gaps = gap * max(0, len(columns) - 1)
    flex = [c for c in columns if not c.width]
    left = max(0, total - fixed - gaps)
    ratios = sum(c.ratio for c in flex) or 1
    widths: list[int] = []
    given = 0
    flex_seen = 0
    for c in columns:
        if c.width:
            widths.append(c.width)
            continue
        flex_seen += 1
        w = left - given if flex_seen == len(flex) else left * c.ratio // ratios
        w = max(c.min_width, w)
        given += w
        widths.append(w)
    return widths


class LazyTable(ScrollView, can_focus=True):
    """Rows from a sequence, a header line, a cursor; Enter selects the row under the cursor."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "lazy-table--header",
        "lazy-table--cursor",
        "lazy-table--empty",
    }

    DEFAULT_CSS = """
    LazyTable {
        height: 1fr;
        scrollbar-gutter: stable;
        overflow-x: hidden;
        & > .lazy-table--header { text-style: bold; color: $text-accent; background: $panel; }
        & > .lazy-table--cursor { background: $surface-lighten-1; text-style: bold; }
        &:focus > .lazy-table--cursor { background: $block-cursor-background; color: $block-cursor-foreground; text-style: bold; }
        & > .lazy-table--empty { color: $text-muted; text-style: italic; }
    }
    """

    cursor_row: reactive[int] = reactive(0, always_update=True, repaint=False)

    class RowMessage(Message):
        """About row ``index`` of the table's current sequence."""

        def __init__(self, table: LazyTable, index: int) -> None:
            super().__init__()
            self.table = table
            self.index = index

        @property
        def control(self) -> LazyTable:
            return self.table

    class Highlighted(RowMessage):
        """The cursor moved to row ``index``."""

    class Selected(RowMessage):
        """Enter (or a double click) on row ``index``."""

    def __init__(
        self,
        columns: Sequence[Column],
        cells: CellsFn,
        rows: Sequence[Any] = (),
        *,
        row_style: StyleFn | None = None,
        empty: str = "Nothing to show.",
        select_on_enter: bool = True,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns = list(columns)
        self._cells = cells
        self._row_style = row_style
        self._rows: Sequence[Any] = rows
        self.empty_message = empty
        self.select_on_enter = select_on_enter
        """False: Enter is left to the screen (its Next)."""

    # --- data -----------------------------------------------------------------------------

    @property
    def rows(self) -> Sequence[Any]:
        return self._rows

    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def current(self) -> Any | None:
        """The row under the cursor, or None for an empty table."""
        if not self._rows:
            return None
        return self._rows[min(self.cursor_row, len(self._rows) - 1)]

    def set_rows(self, rows: Sequence[Any], *, keep_cursor: bool = True) -> None:
        """Show another sequence (a filter, a refresh); the cursor stays on its index if it can."""
        self._rows = rows
        cursor = self.cursor_row if keep_cursor else 0
        self._update_virtual_size()
        self.cursor_row = max(0, min(cursor, len(rows) - 1))
        self.refresh()

    def refresh_row(self, index: int) -> None:
        """Repaint one row in place (after the caller changed it)."""
        self.refresh_line(index + 1)

    def move_down(self) -> None:
        self.action_cursor(1)

    # --- geometry ---------------------------------------------------------------------------

    def _update_virtual_size(self) -> None:
        self.virtual_size = Size(0, len(self._rows) + 1)

    def on_mount(self) -> None:
        self._update_virtual_size()

    def on_resize(self, event: events.Resize) -> None:
        self._update_virtual_size()
        self._scroll_cursor_into_view()

    @property
    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _scroll_cursor_into_view(self) -> None:
        page = self._page
        top = round(self.scroll_y)
        row = self.cursor_row
        if row < top:
            self.scroll_to(y=row, animate=False, immediate=True)
        elif row >= top + page:
            self.scroll_to(y=row - page + 1, animate=False, immediate=True)

    def watch_cursor_row(self, old: int, new: int) -> None:
        self._scroll_cursor_into_view()
        self.refresh_row(old)
        self.refresh_row(new)
        if self._rows:
            self.post_message(self.Highlighted(self, new))

    # --- actions ----------------------------------------------------------------------------

    def _move_to(self, row: int) -> None:
        if not self._rows:
            return
        self.cursor_row = max(0, min(row, len(self._rows) - 1))

    def action_cursor(self, delta: int) -> None:
        self._move_to(self.cursor_row + delta)

    def action_page(self, direction: int) -> None:
        self._move_to(self.cursor_row + direction * self._page)

    def action_jump(self, where: int) -> None:
        self._move_to(0 if where == 0 else len(self._rows) - 1)

    def key_enter(self, event: events.Key) -> None:
        if self._rows and self.select_on_enter:
            event.stop()
            self.post_message(self.Selected(self, self.cursor_row))

    def on_click(self, event: events.Click) -> None:
        row = round(self.scroll_y) + event.y - 1
        if event.y >= 1 and 0 <= row < len(self._rows):
            self.cursor_row = row
            if event.chain == 2:
                self.post_message(self.Selected(self, row))

    # --- rendering --------------------------------------------------------------------------

    def _shown(self, width: int) -> list[int]:
        return [i for i, c in enumerate(self.columns) if width >= c.hide_below]

    def _line(self, cells: Sequence[Cell], widths: Sequence[int], style: Style) -> Strip:
        text = Text(no_wrap=True, end="", style=style)
        shown = self._shown(self.scrollable_content_region.width)
        columns = [self.columns[i] for i in shown]
        cells = [cells[i] for i in shown if i < len(cells)]
        for i, (cell, width, column) in enumerate(zip(cells, widths, columns, strict=False)):
            if i:
                text.append(" ")
            piece = cell if isinstance(cell, Text) else safe_text(cell)
            piece = piece.copy()
            if piece.cell_len > width:
                piece.truncate(width, overflow="ellipsis")
            if column.justify == "right":
                text.append(" " * (width - piece.cell_len))
                text.append_text(piece)
            else:
                text.append_text(piece)
                text.append(" " * (width - piece.cell_len))
        segments = text_segments(text, self.app.console)
        return Strip(segments).adjust_cell_length(self.scrollable_content_region.width, style)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        widths = layout_columns([self.columns[i] for i in self._shown(width)], width)
        base = self.rich_style
        if y == 0:
            header = self.get_component_rich_style("lazy-table--header")
            return self._line([Text(c.label) for c in self.columns], widths, base + header)
        index = round(self.scroll_y) + y - 1
        if index >= len(self._rows):
            if index == 0 and not self._rows:
                empty = text_only(self.get_component_rich_style("lazy-table--empty"))
                return Strip([Segment(" " + self.empty_message, base + empty)]).adjust_cell_length(
                    width, base
                )
            return Strip.blank(width, base)
        row = self._rows[index]
        style = base
        if self._row_style is not None:
            extra = self._row_style(row)
            if extra:
                style = base + Style.parse(extra)
        if index == self.cursor_row:
            style = style + self.get_component_rich_style("lazy-table--cursor")
        return self._line(self._cells(row), widths, style)
