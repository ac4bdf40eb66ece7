"""Write-back beside the wizard flow: the outbox, whether FACTS can be written, failures, retry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import httpx
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.widgets import Footer, Static

from core.connection import check_connection, connection_info, open_client
from core.facts.errors import FactsError
from core.sites import SiteError
from core.writeback.outbox import FailedRow, failed_rows, requeue_failed
from core.writeback.status import outbox_counts, writeback_state
from core.writeback.worker import RunReport, WriteBackWorker
from store import Store
from store.models import Site
from tui.screens.side_common import Col, FitTable, SideScreen, num, outbox_line, when
from tui.widgets.safe_text import clean_display, safe_text

__all__ = ["ROW_CAP", "WriteBackScreen", "report_line"]

ROW_CAP = 500

COLUMNS = (
    Col("entry", "Entry", width=6, justify="right"),
    Col("email", "Email", ratio=2),
    Col("person", "Person", width=7, justify="right", hide_below=90),
    Col("date", "Date", width=10),
    Col("hours", "Hours", width=5, justify="right"),
    Col("op", "Op", width=8, hide_below=90),
    Col("tries", "Tries", width=5, justify="right"),
    Col("error", "Last error", ratio=4),
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


@dataclass(frozen=True)
class _State:
    enabled: bool
    reason: str | None
    people_write: bool | None
    base_url: str | None
    is_sandbox: bool
    counts: dict[str, int]
    failed: list[FailedRow]


class WriteBackScreen(SideScreen):
    """The site's outbox: counts, permission in words, failed rows; retry them or send now."""

    SCREEN_TITLE = "Write-back"
    HELP = (
        "Approved hours of linked accounts are owed to FACTS (ServiceHours): each is a row of "
        "the outbox, sent exactly once by the write-back worker.\n\n"
        "The first line says whether write-back can run: it needs People = Write for the "
        "school's API key (FACTS: System > Configuration > API Configuration).\n\n"
        "  s   send now: run the worker once until nothing is owed (progress below)\n"
        "  r   retry failed rows (they go back in the queue; send now to send them)\n"
        "  F5  reload    Esc  back\n\n"
        "A failed row shows the last error FACTS gave. Nothing is ever sent twice: a row whose "
        "outcome is unknown is looked up in FACTS before anything else is sent."
    )

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "send", "Send now", id="writeback.send",
                tooltip="Run the write-back worker once, now"),
        Binding("r", "retry", "Retry failed", id="writeback.retry",
                tooltip="Put the failed rows back in the queue"),
        Binding("f5", "reload", "Reload", id="writeback.reload", tooltip="Read the outbox again"),
    ]

    draining: reactive[bool] = reactive(False, bindings=True)

    def __init__(
        self,
        store: Store,
        site: Site | str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(store, site)
        self.transport = transport
        """Tests pass the in-process sandbox's transport; None: the site's saved base URL."""
        self._state: _State | None = None

    def compose(self) -> ComposeResult:
        yield self.title_line()
        yield Static(Text("Reading the outbox…"), classes="side-line", id="writeback-permission")
        yield Static(outbox_line({}), classes="side-note", id="writeback-outbox")
        yield Static(Text("Failed rows"), classes="side-note", id="writeback-failed-title")
        yield FitTable(COLUMNS, id="writeback-failed")
        yield Static(Text(""), classes="side-line", id="writeback-progress")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(FitTable).focus()
        self.load()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("send", "retry", "reload") and self.draining:
            return None  # shown dimmed while the worker runs
        if action == "retry" and self._state is not None and not self._state.failed:
            return None
        return True

    # --- loading --------------------------------------------------------------------------------

    def _read(self) -> _State:
        with self.store.db.connection_context():
            enabled, reason = writeback_state(self.site)
            info = connection_info(self.site)
            return _State(
                enabled=enabled,
                reason=reason,
                people_write=info.people_write if info else None,
                base_url=info.base_url if info else None,
                is_sandbox=info.is_sandbox if info else False,
                counts=outbox_counts(self.site),
                failed=failed_rows(self.site),
            )

    @work(thread=True, exclusive=True, group="writeback-load", exit_on_error=False)
    def load(self) -> None:
        self.app.call_from_thread(self._loaded, self._read())

    def _loaded(self, state: _State) -> None:
        self._state = state
        self.refresh_bindings()
        if state.enabled:
            line = Text("Write-back is ON", style="bold green")
            line.append(": the school's key may write People, approved hours go to FACTS.")
        else:
            line = Text("Write-back is OFF", style="bold red")
            line.append(": ")
            line.append_text(safe_text(state.reason or "unknown reason", 400))
        if state.base_url:
            line.append("\nFACTS: ")
            line.append_text(safe_text(state.base_url, 60))
            if state.is_sandbox:
                line.append(" (the in-process sandbox, not a real school)", style="italic")
        self.query_one("#writeback-permission", Static).update(line)
        self.query_one("#writeback-outbox", Static).update(outbox_line(state.counts))
        n = len(state.failed)
        title = f"Failed rows: {n}" if n <= ROW_CAP else f"Failed rows: showing {ROW_CAP} of {n}"
        if n:
            title += " (r puts them back in the queue)"
        self.query_one("#writeback-failed-title", Static).update(Text(title))
        self.query_one(FitTable).set_data(
            [(str(f.entry_id), self._cells(f)) for f in state.failed[:ROW_CAP]]
        )

    @staticmethod
    def _cells(f: FailedRow) -> list[Text]:
        return [
            num(f.entry_id),
            safe_text(f.email, placeholder="(no email)"),
            num(f.person_id) if f.person_id is not None else Text(""),
            Text(when(f.date)),
            num(f.hours),
            Text(f.operation),
            num(f.attempts),
            safe_text(f.last_error, style="red"),
        ]

    # --- actions --------------------------------------------------------------------------------

    def action_reload(self) -> None:
        self.load()

    def _say(self, text: Text) -> None:
        self.query_one("#writeback-progress", Static).update(text)

    def action_retry(self) -> None:
        self.retry()

    @work(thread=True, exclusive=True, group="writeback-retry", exit_on_error=False)
    def retry(self) -> None:
        with self.store.db.connection_context():
            count = requeue_failed(self.site)
        state = self._read()
        self.app.call_from_thread(self._retried, count, state)

    def _retried(self, count: int, state: _State) -> None:
        self._loaded(state)
        rows = "row" if count == 1 else "rows"
        self._say(Text(f"{count} failed {rows} back in the queue: press s to send now."))

    def action_send(self) -> None:
        self.draining = True
        self._say(Text("Sending…"))
        self.drain()

    @work(exclusive=True, group="writeback-drain", exit_on_error=False)
    async def drain(self) -> None:
        """One drain of the worker on the app's loop (it is async; its store calls are short)."""
        try:
            client = open_client(self.store, self.site, transport=self.transport)
            async with client:
                worker = WriteBackWorker(
                    self.store,
                    self.site,
                    client,
                    recheck=lambda: check_connection(
                        self.store, self.site, transport=self.transport
                    ),
                    on_progress=self._progress,
                )
                report = await worker.drain()
        except (SiteError, FactsError) as err:
            self.draining = False
            self._say(Text("Write-back failed: ", style="bold red") + safe_text(str(err), 300))
            self.notify(clean_display(err), title="Write-back", severity="error")
            self.load()
            return
        self.draining = False
        self._finished(report)

    def _progress(self, report: RunReport) -> None:
        self._say(Text("Sending… " + report_line(report)))

    def _finished(self, report: RunReport) -> None:
        line = report_line(report)
        if report.disabled:
            text = Text("Write-back is off: ", style="bold red")
            text.append_text(safe_text(report.disabled, 300))
            self.notify(clean_display(report.disabled), title="Write-back", severity="warning")
        elif report.error:
            text = Text(line + ". ", style="bold")
            text.append_text(safe_text(report.error, 300))
            self.notify(clean_display(line), title="Write-back", severity="warning")
        else:
            text = Text(line + ".", style="bold")
            self.notify(clean_display(line), title="Write-back")
        self._say(text)
        self.load()
