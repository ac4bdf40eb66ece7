"""The parent subset grid: one row per family, one column per parent slot (design.md §1 step 5).

Built for 20,000 families: a ``ScrollView`` whose ``render_line`` draws only the visible lines
(two per family), fed by the review model, which answers by index. A toggle or a preset
changes the source in memory and repaints what is on screen; nothing is rebuilt per row.
The data is core's review model (``core.sync.review``); the screen that owns the grid persists
changes (it hears :class:`SubsetGrid.Changed`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from core.sync.review import PRESET_LABELS, Change, ReviewModel, Slot, SlotState
from tui.widgets.safe_text import safe_text, text_only, text_segments

PRESET_KEYS: dict[str, tuple[str, str]] = {
    name: (key, PRESET_LABELS[name])
    for name, key in (("all", "a"), ("mothers-fathers", "m"), ("listed-first", "f"),
                      ("custodial", "c"))
}
"""Preset name -> (key, label), in the order the footer shows them."""

PRESET_GROUP = Binding.Group("Preset", compact=True)

ROW_HEIGHT = 2
FAMILY_WIDTH = 22
SLOT_MIN = 22


def _into_view(start: int, size: int, offset: int, view: int) -> int | None:
    """The scroll offset that shows ``start..start+size`` in a ``view`` (None: it is shown)."""
    if start < offset:
        return start
    if start + size > offset + view:
        return start + size - view
    return None


class SubsetGrid(ScrollView, can_focus=True):
    """Cursor over (family, parent slot); Space includes/excludes, preset keys restyle all."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_slot", "Toggle", id="grid.toggle",
                tooltip="Include or exclude the parent under the cursor (this family's choice)"),
        Binding("x", "toggle_family", "Family", id="grid.family", show=False,
                tooltip="Exclude the whole family under the cursor, or include it again"),
        *(
            Binding(key, f"preset('{name}')", label, id=f"grid.preset.{name}",
                    tooltip=f"Preset: {label.lower()}", group=PRESET_GROUP)
            for name, (key, label) in PRESET_KEYS.items()
        ),
        Binding("up", "move(-1, 0)", "Up", show=False),
        Binding("down", "move(1, 0)", "Down", show=False),
        Binding("left", "move(0, -1)", "Left", show=False),
        Binding("right", "move(0, 1)", "Right", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First family", show=False),
        Binding("end", "jump(-1)", "Last family", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "subset-grid--header",
        "subset-grid--family",
        "subset-grid--students",
        "subset-grid--included",
        "subset-grid--excluded",
        "subset-grid--detail",
        "subset-grid--cursor",
        "subset-grid--alt",
        "subset-grid--empty",
    }

    DEFAULT_CSS = """
    SubsetGrid {
        height: 1fr;
        scrollbar-gutter: stable;
        & > .subset-grid--header { text-style: bold; color: $text-accent; background: $panel; }
        & > .subset-grid--family { text-style: bold; }
        & > .subset-grid--students { color: $text-muted; }
        & > .subset-grid--included { color: $text-success; }
        & > .subset-grid--excluded { color: $text-muted; }
        & > .subset-grid--detail { color: $text-muted; }
        & > .subset-grid--alt { background: $surface; }
        & > .subset-grid--cursor { background: $surface-lighten-1; }
        &:focus > .subset-grid--cursor { background: $block-cursor-background; color: $block-cursor-foreground; }
        & > .subset-grid--empty { color: $text-muted; text-style: italic; }
    }
    """

    cursor_row: reactive[int] = reactive(0, repaint=False)
    cursor_slot: reactive[int] = reactive(0, repaint=False)

    class Changed(Message):
        """The admin changed the selection; ``change`` says what to save."""

        def __init__(self, grid: SubsetGrid, change: Change) -> None:
            super().__init__()
            self.grid = grid
            self.change = change

        @property
        def control(self) -> SubsetGrid:
            return self.grid

    class Moved(Message):
        """The cursor moved: the screen shows the slot's details."""

        def __init__(self, grid: SubsetGrid) -> None:
            super().__init__()
            self.grid = grid

        @property
        def control(self) -> SubsetGrid:
            return self.grid

    def __init__(
        self,
        source: ReviewModel,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.source = source
        self.painted = 0
        """Lines rendered so far (the bench waits for the first paint with it)."""
        self._styles: dict[str, Style] = {}
        self._lines: LRUCache[tuple[object, ...], Strip] = LRUCache(1024)
        self._version = 0
        """Bumped on every change of the data: cached lines of older versions are stale."""

    # --- geometry -----------------------------------------------------------------------------

    def _slot_width(self) -> int:
        slots = max(1, self.source.max_slots)
        width = self.scrollable_content_region.width - FAMILY_WIDTH
        return max(SLOT_MIN, width // slots)

    def _update_virtual_size(self) -> None:
        slots = max(1, self.source.max_slots)
        needed = FAMILY_WIDTH + slots * self._slot_width()
        width = needed if needed > self.scrollable_content_region.width else 0
        self.virtual_size = Size(width, len(self.source) * ROW_HEIGHT + 1)

    def on_mount(self) -> None:
        self._update_virtual_size()
        self.call_after_refresh(self._update_virtual_size)

    def on_resize(self, event: events.Resize) -> None:
        self._update_virtual_size()
        self._scroll_cursor_into_view()

    @property
    def _rows_per_page(self) -> int:
        return max(1, (self.scrollable_content_region.height - 1) // ROW_HEIGHT)

    def _scroll_cursor_into_view(self) -> None:
        region = self.scrollable_content_region
        y = _into_view(self.cursor_row * ROW_HEIGHT, ROW_HEIGHT, round(self.scroll_y),
                       region.height - 1)
        # horizontally: keep the cursor's slot in view (the family column never scrolls)
        slot_w = self._slot_width()
        x = _into_view(self.cursor_slot * slot_w, slot_w, round(self.scroll_x),
                       region.width - FAMILY_WIDTH)
        if y is not None:
            self.scroll_to(y=y, animate=False, immediate=True)
        if x is not None:
            self.scroll_to(x=x, animate=False, immediate=True)

    # --- the cursor -----------------------------------------------------------------------------

    @property
    def current(self) -> tuple[int, Slot | None, SlotState | None]:
        """(row index, slot under the cursor or None, its state)."""
        if not len(self.source):
            return (-1, None, None)
        row = min(self.cursor_row, len(self.source) - 1)
        slots = self.source.slots(row)
        if not slots:
            return (row, None, None)
        slot = min(self.cursor_slot, len(slots) - 1)
        return (row, slots[slot], self.source.state(row, slot))

    def _refresh_row(self, row: int) -> None:
        self.refresh_lines(1 + row * ROW_HEIGHT, ROW_HEIGHT)

    def watch_cursor_row(self, old: int, new: int) -> None:
        self._scroll_cursor_into_view()
        self._refresh_row(old)
        self._refresh_row(new)
        self.post_message(self.Moved(self))

    def watch_cursor_slot(self, old: int, new: int) -> None:
        self._scroll_cursor_into_view()
        self._refresh_row(self.cursor_row)
        self.post_message(self.Moved(self))

    def _go(self, row: int, slot: int | None = None) -> None:
        count = len(self.source)
        if not count:
            return
        row = max(0, min(row, count - 1))
        width = max(1, len(self.source.slots(row)))
        self.cursor_row = row
        self.cursor_slot = max(0, min(self.cursor_slot if slot is None else slot, width - 1))

    def action_move(self, rows: int, slots: int) -> None:
        if slots:
            self._go(self.cursor_row, self.cursor_slot + slots)
        else:
            self._go(self.cursor_row + rows)

    def action_page(self, direction: int) -> None:
        self._go(self.cursor_row + direction * self._rows_per_page)

    def action_jump(self, where: int) -> None:
        self._go(0 if where == 0 else len(self.source) - 1)

    def on_click(self, event: events.Click) -> None:
        if event.y < 1:
            return
        row = (round(self.scroll_y) + event.y - 1) // ROW_HEIGHT
        x = event.x - FAMILY_WIDTH
        slot = (round(self.scroll_x) + x) // self._slot_width() if x >= 0 else self.cursor_slot
        self._go(row, slot)

    # --- changes --------------------------------------------------------------------------------

    def _changed(self, change: Change) -> None:
        # a parent can sit in several families: repaint what is visible, it is cheap
        self._version += 1
        self.refresh()
        self.post_message(self.Changed(self, change))
        self.post_message(self.Moved(self))

    def action_toggle_slot(self) -> None:
        row, slot, _ = self.current
        if slot is None:
            self.app.bell()
            return
        self._changed(self.source.toggle(row, min(self.cursor_slot, len(self.source.slots(row)) - 1)))

    def action_toggle_family(self) -> None:
        row, _, _ = self.current
        if row < 0:
            return
        self._changed(self.source.toggle_family(row))

    def action_preset(self, preset: str) -> None:
        if preset == self.source.preset:
            return
        self._changed(self.source.set_preset(preset))

    def set_filter(self, text: str) -> None:
        self.source.set_filter(text)
        self._version += 1
        self._update_virtual_size()
        self.scroll_to(y=0, animate=False, immediate=True)
        self.cursor_row = 0
        self.refresh()
        self.post_message(self.Moved(self))

    # --- rendering ------------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._lines.clear()

    def on_focus(self) -> None:
        self._styles.clear()
        self._lines.clear()
        self.refresh()

    def on_blur(self) -> None:
        self.on_focus()

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            if name == "base":
                style = self.rich_style
            elif name in ("header", "alt", "cursor"):
                style = self.get_component_rich_style(f"subset-grid--{name}")
            else:  # text on whatever background the row has
                style = text_only(self.get_component_rich_style(f"subset-grid--{name}"))
            self._styles[name] = style
        return style

    def _strip(self, text: Text, width: int, style: Style) -> Strip:
        return Strip(text_segments(text, self.app.console)).adjust_cell_length(width, style)

    def render_line(self, y: int) -> Strip:
        self.painted += 1
        width = self.scrollable_content_region.width
        base = self._style("base")
        slot_w = self._slot_width()
        left = round(self.scroll_x)
        if y == 0:
            return self._header(width, slot_w, base)
        line = round(self.scroll_y) + y - 1
        row, sub = divmod(line, ROW_HEIGHT)
        cursor = self.cursor_slot if row == self.cursor_row else -1
        key = (row, sub, cursor, self._version, width, left)
        cached = self._lines.get(key)
        if cached is not None:
            return cached
        strip = self._render_row_line(row, sub, width, slot_w, left, base)
        self._lines[key] = strip
        return strip

    def _render_row_line(
        self, row: int, sub: int, width: int, slot_w: int, left: int, base: Style
    ) -> Strip:
        if row >= len(self.source):
            if row == 0:
                text = Text(" No family matches.", style=self._style("empty"))
                return self._strip(text, width, base)
            return Strip.blank(width, base)
        if row % 2:
            base = base + self._style("alt")
        fam = self._family_cell(row, sub, base)
        slots = self.source.slots(row)
        count = max(1, self.source.max_slots)
        cells = Text(no_wrap=True, end="", style=base)
        for i in range(count):
            cells.append_text(self._slot_cell(row, i, slots, sub, slot_w, base))
        slot_strip = self._strip(cells, count * slot_w, base)
        slot_strip = slot_strip.crop(left, left + width - FAMILY_WIDTH)
        return Strip.join([fam, slot_strip]).adjust_cell_length(width, base)

    def _header(self, width: int, slot_w: int, base: Style) -> Strip:
        style = base + self._style("header")
        count = max(1, self.source.max_slots)
        fam = self._strip(Text(" Family / students", style=style), FAMILY_WIDTH, style)
        cells = Text(no_wrap=True, end="", style=style)
        for i in range(count):
            label = f"Parent {i + 1}" + (" (listed first = 1st)" if i == 0 and slot_w > 34 else "")
            cells.append(label[: slot_w - 1].ljust(slot_w))
        left = round(self.scroll_x)
        strip = self._strip(cells, count * slot_w, style).crop(left, left + width - FAMILY_WIDTH)
        return Strip.join([fam, strip]).adjust_cell_length(width, style)

    def _family_cell(self, row: int, sub: int, base: Style) -> Strip:
        family_id, name, students = self.source.family(row)
        excluded = self.source.family_excluded(row)
        if sub == 0:
            style = base + self._style("family")
            text = Text(" ", style=style, no_wrap=True, end="")
            text.append_text(safe_text(name, FAMILY_WIDTH - 2, placeholder=f"family {family_id}"))
            if excluded:
                text.stylize("strike")
        else:
            style = base + self._style("students")
            label = "excluded" if excluded else students
            text = Text(" ", style=style, no_wrap=True, end="")
            text.append_text(safe_text(label, FAMILY_WIDTH - 2))
        return self._strip(text, FAMILY_WIDTH, base)

    def _slot_cell(
        self, row: int, index: int, slots: Sequence[Slot], sub: int, slot_w: int, base: Style
    ) -> Text:
        inner = slot_w - 1
        if index >= len(slots):
            return Text(" " * slot_w, style=base)
        slot = slots[index]
        state = self.source.state(row, index)
        cursor = row == self.cursor_row and index == min(self.cursor_slot, len(slots) - 1)
        on_top = self._style("cursor") if cursor else Style()
        if sub == 0:
            mark = "[x]" if state.included else "[ ]"
            flag = "*" if state.overridden else " "
            look = self._style("included") if state.included else self._style("excluded")
            text = Text(f"{mark}{flag}", style=base + look + on_top, no_wrap=True, end="")
            text.append_text(safe_text(slot.name, inner - 4, placeholder=f"person {slot.person_id}"))
            if not state.included:
                text.stylize(Style(strike=True), 4)
        else:
            bits = [slot.relationship or "?"]
            if slot.listed_first:
                bits.append("1st")
            if slot.custody:
                bits.append("cust.")
            head = " ".join(bits)
            text = Text("    ", style=base + self._style("detail") + on_top, no_wrap=True,
                        end="")
            text.append_text(safe_text(head, inner - 4))
            room = inner - text.cell_len - 1
            if room > 3:
                text.append(" ")
                text.append_text(safe_text(slot.email or "no email", room))
        text.truncate(inner, pad=True)
        out = Text(no_wrap=True, end="")
        out.append_text(text)
        out.append(" ", style=base)
        return out
