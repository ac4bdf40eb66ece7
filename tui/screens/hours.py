"""Hours beside the wizard flow: approve or reject entries, see their write-back and the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Static

from core.hours import EntryView, HoursError, approve, list_entries, reject
from core.writeback.status import outbox_counts
from store import Store
from store.models import Site
from tui.screens.side_common import Col, FitTable, SideScreen, num, outbox_line, when
from tui.widgets.safe_text import clean_display, safe_text

__all__ = ["ROW_CAP", "HoursScreen"]

ROW_CAP = 500
"""Entries shown at once (pending first); the note says "showing N of M"."""

COLUMNS = (
    Col("sel", "", width=1),
    Col("date", "Date", width=10),
    Col("hours", "Hours", width=5, justify="right"),
    Col("status", "Status", width=8),
    Col("name", "Name", ratio=2),
    Col("email", "Email", ratio=2, hide_below=90),
    Col("description", "Description", ratio=3),
    Col("writeback", "Write-back", width=12),
)

_STATUS_STYLE = {"pending": "bold yellow", "approved": "green", "rejected": "red"}
_WB_STYLE = {"failed": "bold red", "queued": "yellow", "waiting-link": "dim"}


@dataclass(frozen=True)
class _Loaded:
    entries: list[EntryView]
    counts: dict[str, int]


class HoursScreen(SideScreen):
    """Entries of the site, pending first; approve (enqueues write-back) or reject them."""

    SCREEN_TITLE = "Hours"
    HELP = (
        "Volunteer-hour entries of the site, pending first, with the state of their write-back "
        "to FACTS (queued, sent, failed, waiting-link = the account is not linked to FACTS "
        "yet).\n\n"
        "  Space  select or unselect the highlighted entry\n"
        "  a      approve the selected entries (or the highlighted one)\n"
        "  r      reject the selected entries (or the highlighted one)\n"
        "  F5     reload    Esc  back\n\n"
        "Approving an entry of an account linked to FACTS queues its write-back at once: the "
        "outbox 'pending' count rises and the write-back worker sends it (Write-back screen). "
        "Rejecting an entry FACTS already holds withdraws it there."
    )

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "select_entry", "Select", id="hours.select",
                tooltip="Select or unselect the highlighted entry"),
        Binding("a", "approve", "Approve", id="hours.approve",
                tooltip="Approve the selected entries (or the highlighted one)"),
        Binding("r", "reject", "Reject", id="hours.reject",
                tooltip="Reject the selected entries (or the highlighted one)"),
        Binding("f5", "reload", "Reload", show=False, id="hours.reload",
                tooltip="Read the entries again"),
    ]

    def __init__(self, store: Store, site: Site | str, *, by: str = "site admin") -> None:
        super().__init__(store, site)
        self.by = by
        self._entries: list[EntryView] = []
        self._by_id: dict[int, EntryView] = {}
        self.selected: set[int] = set()
        self._counts: dict[str, int] = {}

    def compose(self) -> ComposeResult:
        yield self.title_line()
        yield Static(outbox_line({}), classes="side-note", id="hours-outbox")
        yield FitTable(COLUMNS, id="hours-table")
        yield Static(Text("Loading entries…"), classes="side-note", id="hours-note")
        yield Static(Text(""), classes="side-line", id="hours-result")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(FitTable).focus()
        self.load()

    # --- loading --------------------------------------------------------------------------------

    def _read(self) -> _Loaded:
        with self.store.db.connection_context():
            entries = list_entries(self.site)
            counts = outbox_counts(self.site)
        entries.sort(key=lambda e: e.status != "pending")  # stable: newest first within
        return _Loaded(entries, counts)

    @work(thread=True, exclusive=True, group="hours-load", exit_on_error=False)
    def load(self) -> None:
        self.app.call_from_thread(self._loaded, self._read())

    def _loaded(self, data: _Loaded) -> None:
        self._entries = data.entries
        self._by_id = {e.id: e for e in data.entries}
        self.selected &= set(self._by_id)
        self._counts = data.counts
        self.query_one("#hours-outbox", Static).update(outbox_line(data.counts))
        rows = [(str(e.id), self._cells(e)) for e in data.entries[:ROW_CAP]]
        self.query_one(FitTable).set_data(rows)
        self._update_note()

    def _sel_cell(self, entry_id: int) -> Text:
        return Text("✓", style="bold") if entry_id in self.selected else Text(" ")

    def _cells(self, e: EntryView) -> list[Text]:
        wb = e.writeback or ""
        return [
            self._sel_cell(e.id),
            Text(when(e.date)),
            num(e.hours),
            Text(e.status, style=_STATUS_STYLE.get(e.status, "")),
            safe_text(e.name),
            safe_text(e.email, placeholder="(no email)"),
            safe_text(e.description),
            Text(wb, style=_WB_STYLE.get(wb, "")),
        ]

    def _update_note(self) -> None:
        total = len(self._entries)
        pending = sum(1 for e in self._entries if e.status == "pending")
        head = f"showing {ROW_CAP} of {total} entries" if total > ROW_CAP else f"{total} entries"
        text = f"{head} · {pending} pending · {len(self.selected)} selected"
        current = self._current()
        if current is not None and current.last_error:
            text += " · last error: " + clean_display(current.last_error)
        self.query_one("#hours-note", Static).update(safe_text(text))

    def on_data_table_row_highlighted(self) -> None:
        self._update_note()

    # --- actions --------------------------------------------------------------------------------

    def _current(self) -> EntryView | None:
        key = self.query_one(FitTable).current_key
        return self._by_id.get(int(key)) if key is not None else None

    def action_reload(self) -> None:
        self.load()

    def action_select_entry(self) -> None:
        entry = self._current()
        if entry is None:
            return
        self.selected ^= {entry.id}
        table = self.query_one(FitTable)
        table.set_cell(str(entry.id), "sel", self._sel_cell(entry.id))
        table.action_cursor_down()
        self._update_note()

    def _targets(self) -> list[int]:
        if self.selected:
            return sorted(self.selected)
        entry = self._current()
        return [entry.id] if entry is not None else []

    def action_approve(self) -> None:
        ids = self._targets()
        if ids:
            self.change(ids, "approve")

    def action_reject(self) -> None:
        ids = self._targets()
        if ids:
            self.change(ids, "reject")

    @work(thread=True, exclusive=True, group="hours-change", exit_on_error=False)
    def change(self, ids: list[int], what: str) -> None:
        before = dict(self._counts)
        try:
            with self.store.db.connection_context():
                if what == "approve":
                    approve(self.site, ids, by=self.by)
                else:
                    reject(self.site, ids)
        except HoursError as err:
            self.app.call_from_thread(self._failed, str(err))
            return
        data = self._read()
        self.app.call_from_thread(self._changed, ids, what, before, data)

    def _failed(self, message: str) -> None:
        self.query_one("#hours-result", Static).update(
            Text("Refused: ", style="bold red") + safe_text(message, 200)
        )
        self.notify(clean_display(message), title="Hours", severity="error")

    def _changed(self, ids: list[int], what: str, before: dict[str, int], data: _Loaded) -> None:
        self.selected.clear()
        self._loaded(data)
        done = "Approved" if what == "approve" else "Rejected"
        plural = "entry" if len(ids) == 1 else "entries"
        text = Text(f"{done} {len(ids)} {plural}", style="bold")
        queued = data.counts.get("pending", 0) - before.get("pending", 0)
        if queued > 0:
            text.append(f"; {queued} queued for write-back to FACTS")
        waiting = sum(
            1 for i in ids if (e := self._by_id.get(i)) is not None and e.writeback == "waiting-link"
        )
        if waiting:
            text.append(f"; {waiting} wait for their account to be linked to FACTS")
        self.query_one("#hours-result", Static).update(text + Text("."))
