"""Write-back beside the wizard flow: the outbox, whether FACTS can be written, failures, retry."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.widgets import Static

from tui.flow import StepId
from tui.screens.base import RELOAD, FactsyncScreen
from tui.screens.hours import outbox_line, when
from tui.services import Services
from tui.widgets.lazy_table import Column, LazyTable
from tui.widgets.safe_text import safe_text

if TYPE_CHECKING:
    from core.workspace import WriteBackState
    from core.writeback.outbox import FailedRow
    from core.writeback.worker import RunReport

__all__ = ["WriteBackScreen", "report_line"]

COLUMNS = (
    Column("Entry", width=6, justify="right"),
    Column("Email", ratio=2),
    Column("Person", width=7, justify="right", hide_below=90),
    Column("Date", width=10),
    Column("Hours", width=5, justify="right"),
    Column("Op", width=8, hide_below=90),
    Column("Tries", width=5, justify="right"),
    Column("Last error", ratio=4),
)


def report_line(r: RunReport) -> str:
    """``write-back: created 3, failed 1; 2 still queued (7 requests)`` (as the CLI says it)."""
    parts = [
        f"{label} {n}"
        for label, n in (
            ("created", r.created),
            ("adopted (already in FACTS)", r.adopted),
            ("updated", r.updated),
            ("withdrawn", r.withdrawn),
            ("dropped", r.dropped),
            ("failed", r.failed),
        )
        if n
    ]
    done = ", ".join(parts) or "nothing sent"
    tail = f"; {r.retrying} still queued" if r.retrying else ""
    return f"write-back: {done}{tail} ({r.requests} requests)"


class WriteBackScreen(FactsyncScreen[None]):
    """The site's outbox: counts, permission in words, failed rows; retry them or send now."""

    STEP = StepId.WRITEBACK
    HELP = """\
# Write-back

Approved hours of linked accounts are owed to FACTS (ServiceHours): each is a row of the
outbox, sent exactly once by the write-back worker.

The first line says whether write-back can run: it needs People = Write for the school's API
key (FACTS: System > Configuration > API Configuration).

- **s** sends now: runs the worker once until nothing is owed (progress below)
- **r** retries failed rows (they go back in the queue; send now to send them)

A failed row shows the last error FACTS gave. Nothing is ever sent twice: a row whose outcome
is unknown is looked up in FACTS before anything else is sent.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "send", "Send now", id="writeback.send",
                tooltip="Run the write-back worker once, now"),
        Binding("r", "retry", "Retry failed", id="writeback.retry",
                tooltip="Put the failed rows back in the queue"),
        RELOAD,
    ]

    draining: reactive[bool] = reactive(False, bindings=True)

    def __init__(self, services: Services, site: str) -> None:
        super().__init__(services, site)
        self._state: WriteBackState | None = None

    def body(self) -> ComposeResult:
        yield Static(Text("Reading the outbox…"), classes="side-note", id="writeback-permission")
        yield Static(outbox_line({}), classes="side-note", id="writeback-outbox")
        yield Static(Text("Failed rows"), classes="side-note", id="writeback-failed-title")
        yield LazyTable(COLUMNS, self._cells, id="writeback-failed", select_on_enter=False,
                        empty="No failed row.")
        yield Static(Text(""), classes="side-note", id="writeback-progress")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(LazyTable).focus()
        self.load()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("send", "retry", "reload") and self.draining:
            return None  # shown dimmed while the worker runs
        if action == "retry" and self._state is not None and not self._state.failed:
            return None
        return True

    # --- loading --------------------------------------------------------------------------------

    def load(self) -> None:
        self.run_core(self.core.writeback, self.flow.site, then=self._loaded, group="wb-load")

    def _loaded(self, state: WriteBackState) -> None:
        self._state = state
        self.refresh_bindings()
        if state.enabled:
            line = Text("Write-back is ON", style="bold green")
            line.append(": the key may write People; approved hours go to FACTS.")
        else:
            line = Text("Write-back is OFF", style="bold red")
            line.append(": ")
            line.append_text(safe_text(state.reason or "unknown reason", 400, wrap=True))
        if state.base_url:
            line.append("\nFACTS: ")
            line.append_text(safe_text(state.base_url, 50))
            if state.is_sandbox:
                line.append(" (in-process sandbox)", style="italic")
        self.query_one("#writeback-permission", Static).update(line)
        self.query_one("#writeback-outbox", Static).update(outbox_line(state.counts))
        n = len(state.failed)
        title = f"Failed rows: {n}" + (" (r puts them back in the queue)" if n else "")
        self.query_one("#writeback-failed-title", Static).update(Text(title))
        self.query_one(LazyTable).set_rows(state.failed)

    @staticmethod
    def _cells(f: FailedRow) -> list[Text]:
        def num(value: float | int | None) -> Text:
            return Text("" if value is None else f"{value:g}", justify="right")

        return [
            num(f.entry_id), safe_text(f.email, placeholder="(no email)"), num(f.person_id),
            Text(when(f.date)), num(f.hours), Text(f.operation), num(f.attempts),
            safe_text(f.last_error, style="red"),
        ]

    # --- actions --------------------------------------------------------------------------------

    def action_reload(self) -> None:
        self.load()

    def _say(self, text: Text) -> None:
        self.query_one("#writeback-progress", Static).update(text)

    def action_retry(self) -> None:
        def retried(count: int) -> None:
            rows = "row" if count == 1 else "rows"
            self._say(Text(f"{count} failed {rows} back in the queue: press s to send now."))
            self.load()

        self.run_core(self.core.retry_failed, self.flow.site, then=retried, group="wb-retry")

    def action_send(self) -> None:
        self.draining = True
        self._say(Text("Sending…"))
        # the worker is async and its store calls are short: it runs on the app's loop
        self.run_core_async(self.core.send_now(self.flow.site, self._progress),
                            then=self._finished, failed=self._send_failed, group="wb-drain")

    def _send_failed(self, message: str) -> None:
        self.draining = False
        self._say(Text("Write-back failed: ", style="bold red") + safe_text(message, 300,
                                                                             wrap=True))
        self.notify(message, title="Write-back", severity="error", markup=False)
        self.load()

    def _progress(self, report: RunReport) -> None:
        self._say(Text("Sending… " + report_line(report)))

    def _finished(self, report: RunReport) -> None:
        self.draining = False
        line = report_line(report)
        if report.disabled:
            text = Text("Write-back is off: ", style="bold red")
            text.append_text(safe_text(report.disabled, 300, wrap=True))
            self.notify(report.disabled, title="Write-back", severity="warning", markup=False)
        elif report.error:
            text = Text(line + ". ", style="bold")
            text.append_text(safe_text(report.error, 300, wrap=True))
            self.notify(line, title="Write-back", severity="warning", markup=False)
        else:
            text = Text(line + ".", style="bold")
            self.notify(line, title="Write-back", markup=False)
        self._say(text)
        self.load()
