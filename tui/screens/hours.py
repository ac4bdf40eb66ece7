"""Hours beside the wizard flow: approve or reject entries, see their write-back and the outbox."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from tui.flow import StepId
from tui.screens.base import RELOAD, FactsyncScreen
from tui.services import Services
from tui.widgets.lazy_table import Column, LazyTable
from tui.widgets.safe_text import safe_text

if TYPE_CHECKING:
    from core.hours import EntryView
    from core.workspace import HoursState

__all__ = ["HoursScreen", "outbox_line", "when", "who_labels"]

COLUMNS = (
    Column("", width=1, min_width=1),
    Column("Date", width=10),
    Column("Hours", width=5, justify="right"),
    Column("Status", width=8),
    Column("Who", ratio=4),
    Column("Description", ratio=3),
    Column("Write-back", width=12),
)

_STATUS_STYLE = {"pending": "bold yellow", "approved": "green", "rejected": "red"}
_WB_STYLE = {"failed": "bold red", "queued": "yellow", "waiting-link": "dim"}


def when(value: datetime | date | None) -> str:
    """A stored UTC time as ``YYYY-MM-DD HH:MM`` (dates as ``YYYY-MM-DD``); blank for None."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


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


def who_labels(entries: list[EntryView]) -> dict[int, str]:
    """Entry id -> who it is for: the name, and the email where two accounts share a name."""
    emails: dict[str, set[str]] = defaultdict(set)
    for e in entries:
        emails[e.name.casefold()].add((e.email or "").casefold())
    out: dict[int, str] = {}
    for e in entries:
        name = e.name or e.email or "(no name)"
        if len(emails[e.name.casefold()]) > 1 or not e.name:
            out[e.id] = f"{name} <{e.email or 'no email'}>" if e.name else name
        else:
            out[e.id] = name
    return out


class HoursScreen(FactsyncScreen[None]):
    """Entries of the site, pending first; approve (enqueues write-back) or reject them."""

    STEP = StepId.HOURS
    HELP = """\
# Hours

Volunteer-hour entries of the site, pending first, with the state of their write-back to FACTS
(queued, sent, failed, waiting-link = the account is not linked to FACTS yet). Two accounts
with the same name show their emails.

- **Space** selects or unselects the highlighted entry
- **a** approves the selected entries (or the highlighted one), **r** rejects them

Approving an entry of an account linked to FACTS queues its write-back at once: the outbox
'pending' count rises and the write-back worker sends it (Write-back screen). Rejecting an
entry FACTS already holds withdraws it there.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "select_entry", "Select", id="hours.select",
                tooltip="Select or unselect the highlighted entry"),
        Binding("a", "change('approve')", "Approve", id="hours.approve",
                tooltip="Approve the selected entries (or the highlighted one)"),
        Binding("r", "change('reject')", "Reject", id="hours.reject",
                tooltip="Reject the selected entries (or the highlighted one)"),
        RELOAD,
    ]

    def __init__(self, services: Services, site: str) -> None:
        super().__init__(services, site)
        self._entries: list[EntryView] = []
        self._by_id: dict[int, EntryView] = {}
        self._who: dict[int, str] = {}
        self.selected: set[int] = set()
        self._counts: dict[str, int] = {}

    def body(self) -> ComposeResult:
        yield Static(outbox_line({}), classes="side-note", id="hours-outbox")
        yield LazyTable(COLUMNS, self._cells, id="hours-table", select_on_enter=False,
                        empty="No hour entries yet.")
        yield Static(Text("Loading entries…"), classes="side-note", id="hours-note")
        yield Static(Text(""), classes="side-note", id="hours-result")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(LazyTable).focus()
        self.load()

    def load(self) -> None:
        self.run_core(self.core.hours, self.flow.site, then=self._loaded)

    def _loaded(self, data: HoursState) -> None:
        self._entries = data.entries
        self._by_id = {e.id: e for e in data.entries}
        self._who = who_labels(data.entries)
        self.selected &= set(self._by_id)
        self._counts = data.counts
        self.query_one("#hours-outbox", Static).update(outbox_line(data.counts))
        self.query_one(LazyTable).set_rows(data.entries)
        self._update_note()

    def _cells(self, e: EntryView) -> list[Text]:
        wb = e.writeback or ""
        return [
            Text("✓", style="bold") if e.id in self.selected else Text(" "),
            Text(when(e.date)),
            Text(f"{e.hours:g}", justify="right"),
            Text(e.status, style=_STATUS_STYLE.get(e.status, "")),
            safe_text(self._who.get(e.id, e.name)),
            safe_text(e.description),
            Text(wb, style=_WB_STYLE.get(wb, "")),
        ]

    def _update_note(self) -> None:
        pending = sum(1 for e in self._entries if e.status == "pending")
        text = safe_text(f"{len(self._entries)} entries · {pending} pending · "
                         f"{len(self.selected)} selected", wrap=True)
        current = self.query_one(LazyTable).current
        if current is not None and current.last_error:
            text.append(" · last error: ")
            text.append_text(safe_text(current.last_error, 200, wrap=True))
        self.query_one("#hours-note", Static).update(text)

    @on(LazyTable.Highlighted)
    def _highlighted(self) -> None:
        self._update_note()

    # --- actions --------------------------------------------------------------------------------

    def action_reload(self) -> None:
        self.load()

    def action_select_entry(self) -> None:
        table = self.query_one(LazyTable)
        entry = table.current
        if entry is None:
            return
        self.selected ^= {entry.id}
        table.refresh_row(table.cursor_row)
        table.move_down()
        self._update_note()

    def action_change(self, what: str) -> None:
        entry = self.query_one(LazyTable).current
        ids = sorted(self.selected) or ([entry.id] if entry is not None else [])
        if not ids:
            return
        before = dict(self._counts)
        call = self.core.approve if what == "approve" else self.core.reject

        def changed(data: HoursState) -> None:
            self._changed(ids, what, before, data)

        self.run_core(lambda: (call(self.flow.site, ids), self.core.hours(self.flow.site))[1],
                      then=changed, failed=self._failed, group="hours-change")

    def _failed(self, message: str) -> None:
        self.query_one("#hours-result", Static).update(
            Text("Refused: ", style="bold red") + safe_text(message, 200, wrap=True))
        self.notify(message, title="Hours", severity="error", markup=False)

    def _changed(self, ids: list[int], what: str, before: dict[str, int],
                 data: HoursState) -> None:
        self.selected.clear()
        self._loaded(data)
        done = "Approved" if what == "approve" else "Rejected"
        text = Text(f"{done} {len(ids)} {'entry' if len(ids) == 1 else 'entries'}", style="bold")
        queued = data.counts.get("pending", 0) - before.get("pending", 0)
        if queued > 0:
            text.append(f"; {queued} queued for write-back to FACTS")
        waiting = sum(1 for i in ids
                      if (e := self._by_id.get(i)) is not None and e.writeback == "waiting-link")
        if waiting:
            text.append(f"; {waiting} wait for their account to be linked to FACTS")
        self.query_one("#hours-result", Static).update(text + Text("."))
