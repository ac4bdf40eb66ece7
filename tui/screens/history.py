"""History beside the wizard flow: sync and merge runs, the changes of each, undo the latest."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from core.actor import describe
from tui.dialogs import ConfirmDialog
from tui.flow import StepId
from tui.screens.base import RELOAD, FactsyncScreen
from tui.screens.hours import when
from tui.services import Services
from tui.widgets.lazy_table import Column, LazyTable
from tui.widgets.safe_text import clean_display, safe_text

if TYPE_CHECKING:
    from core.sync.service import RunSummary
    from core.workspace import RunChanges

__all__ = ["CHANGE_CAP", "HistoryScreen", "change_summary", "counts_summary"]

CHANGE_CAP = 500
"""Changes of one run shown at once (a first sync may add thousands)."""

RUN_COLUMNS = (
    Column("Run", width=4, justify="right", min_width=3),
    Column("When (UTC)", width=16),
    Column("Kind", width=5, min_width=4),
    Column("What changed", ratio=1),
    Column("Rows", width=5, justify="right", min_width=4),
    Column("By", width=12, min_width=6, hide_below=90),
    Column("State", width=8),
)
CHANGE_COLUMNS = (
    Column("Account", ratio=2),
    Column("Action", width=10),
    Column("Reason", ratio=2, hide_below=90),
    Column("Before → after", ratio=4),
)

_FIELDS = ("email", "first_name", "last_name", "role", "status", "archived_reason", "origin",
           "person_id", "family_key", "grade", "invited_at")
_COUNT_WORDS = {"linked": "merged by email", "entries_moved": "entries moved",
                "hours_moved": "hours moved", "open_conflicts": "open conflicts"}


def counts_summary(kind: str, counts: dict[str, Any]) -> str:
    """``added 3 · archived 1`` from a run's counts (numbers only; zeros left out)."""
    if kind == "undo" and "undid" in counts:
        return f"undid run {counts['undid']} ({counts.get('changes', 0)} changes)"
    parts: list[str] = []
    for key, value in counts.items():
        if key in ("enrolled_students", "merged") or isinstance(value, bool):
            continue
        if isinstance(value, list | tuple):
            value = len(value)
        if isinstance(value, int | float) and value:
            parts.append(f"{_COUNT_WORDS.get(key, key.replace('_', ' '))} {value:g}")
    return " · ".join(parts) or "no changes"


def who(run: RunSummary) -> str:
    """Who ran it, as the screens show it: the login or OS user ("unknown" for older runs)."""
    return describe(run.actor, run.via)


def _fmt(value: Any) -> str:
    return "—" if value is None or value == "" else clean_display(value)


def change_summary(action: str, before: Any, after: Any) -> str:
    """A change in words: the fields that differ as ``field: old → new``."""
    if action == "move-hours" or (isinstance(before, dict) and "entries" in before):
        data = before if isinstance(before, dict) and "entries" in before else after or {}
        entries = data.get("entries", []) if isinstance(data, dict) else []
        return f"{len(entries)} hour entries moved"
    if action == "setup" or (isinstance(before, dict) and "kind" in before):
        return "sync setup saved (decisions, kept emails)"
    if not isinstance(before, dict) and not isinstance(after, dict):
        return ""
    if not isinstance(before, dict):
        return "new account: " + _fmt((after or {}).get("email"))
    if not isinstance(after, dict):
        return "account removed"
    diffs = [f"{name}: {_fmt(before.get(name))} → {_fmt(after.get(name))}"
             for name in _FIELDS if before.get(name) != after.get(name)]
    return "; ".join(diffs) or "no field changed"


@dataclass(frozen=True)
class _Change:
    account: str
    action: str
    reason: str
    diff: str


class HistoryScreen(FactsyncScreen[None]):
    """The site's runs, newest first; the changes of the highlighted run; undo the latest."""

    STEP = StepId.HISTORY
    HELP = """\
# History

Every sync and merge of the site, newest first (runs are numbered per site), and the undo
runs, each with who ran it (the OS user, or the login of a browser session; "unknown" for runs
recorded before factsync kept actors). `factsync history SITE --events` lists every other
change too: decisions, setup, groupings, holds, the hour-syncing switch. Move through the runs with the arrows: the lower table shows the changes of the
highlighted run (the account, what was done, why, and each field before → after).

- **u** undoes the latest run that is not undone yet (asks first). Accounts it added are
  deleted (archived when they have hours since); merges give the hours back. Hours are never
  deleted.
- **Tab** moves between the runs and the changes.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("u", "undo", "Undo latest", id="history.undo",
                tooltip="Revert the latest sync or merge (asks first)"),
        RELOAD,
    ]

    DEFAULT_CSS = """
    HistoryScreen #history-runs { height: 1fr; }
    HistoryScreen #history-changes { height: 1fr; }
    """

    def __init__(self, services: Services, site: str) -> None:
        super().__init__(services, site)
        self._runs: list[RunSummary] = []
        self._shown_run: int | None = None

    def body(self) -> ComposeResult:
        yield Static(Text("Reading the runs…"), classes="side-note", id="history-note")
        yield LazyTable(RUN_COLUMNS, self._run_cells, id="history-runs", select_on_enter=False,
                        empty="No runs yet: a sync or a merge shows here.")
        yield Static(Text(""), classes="side-note", id="history-changes-title")
        yield LazyTable(CHANGE_COLUMNS, self._change_cells, id="history-changes",
                        select_on_enter=False, empty="")
        yield Static(Text(""), classes="side-note", id="history-detail")
        yield Static(Text(""), classes="side-note", id="history-result")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#history-runs", LazyTable).focus()
        self.load()

    @property
    def latest(self) -> RunSummary | None:
        """The run ``u`` would undo: the newest that is not an undo and not undone."""
        return next((r for r in self._runs if r.kind != "undo" and r.undone_at is None), None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "undo" and self.latest is None:
            return None
        return True

    # --- runs -------------------------------------------------------------------------------------

    def load(self) -> None:
        self.run_core(self.core.history, self.flow.site, then=self._loaded, group="runs")

    def _loaded(self, runs: list[RunSummary]) -> None:
        self._runs = runs
        self.refresh_bindings()
        latest = self.latest
        note = f"{len(runs)} runs" if runs else "No runs yet: a sync or a merge shows here."
        if latest is not None:
            note += f" · u undoes run {latest.number} ({latest.kind})"
        self.query_one("#history-note", Static).update(Text(note))
        self._shown_run = None
        self.query_one("#history-runs", LazyTable).set_rows(runs)
        self._show_current()

    def _run_cells(self, r: RunSummary) -> list[Text]:
        state = "undone" if r.undone_at else ("running" if r.finished_at is None else "")
        if not state and self.latest is r:
            state = "latest"
        return [
            Text(str(r.number), justify="right"),
            Text(when(r.started_at)),
            Text(r.kind),
            safe_text(counts_summary(r.kind, r.counts)),
            Text(str(r.changes), justify="right"),
            safe_text(who(r)),
            Text(state, style="yellow" if state == "undone" else "bold" if state else ""),
        ]

    @on(LazyTable.Highlighted, "#history-runs")
    def _run_highlighted(self) -> None:
        self._show_current()

    def _show_current(self) -> None:
        run = self.query_one("#history-runs", LazyTable).current
        if run is None:
            self.query_one("#history-changes-title", Static).update(Text(""))
            self.query_one("#history-changes", LazyTable).set_rows([])
            return
        if run.id != self._shown_run:
            self._shown_run = run.id
            self.run_core(self.core.run_changes, run.id, CHANGE_CAP,
                          then=lambda changes: self._changes_loaded(run, changes),
                          group="changes")

    # --- changes of one run -----------------------------------------------------------------------

    @staticmethod
    def _change(c: dict[str, Any], names: dict[int, str]) -> _Change:
        before, after = c["before"], c["after"]
        who = names.get(c["accountId"]) if c["accountId"] is not None else None
        if who is None:
            snap = after if isinstance(after, dict) else before if isinstance(before, dict) else {}
            who = str(snap.get("email") or "") or (
                f"account {c['accountId']}" if c["accountId"] is not None else "—")
        return _Change(who, c["action"], c["reason"] or "",
                       change_summary(c["action"], before, after))

    def _changes_loaded(self, run: RunSummary, loaded: RunChanges) -> None:
        if run.id != self._shown_run:
            return
        changes = [self._change(c, loaded.names) for c in loaded.changes]
        shown = (f"showing {len(changes)} of {loaded.total}" if loaded.total > len(changes)
                 else f"{loaded.total}")
        title = Text(f"Changes of run {run.number} ({run.kind}, by ")
        title.append_text(safe_text(who(run), 40))
        title.append(f"): {shown}")
        self.query_one("#history-changes-title", Static).update(title)
        self.query_one("#history-changes", LazyTable).set_rows(changes, keep_cursor=False)
        self._show_detail()

    @staticmethod
    def _change_cells(c: _Change) -> list[Text]:
        return [safe_text(c.account), Text(c.action), safe_text(c.reason), safe_text(c.diff)]

    @on(LazyTable.Highlighted, "#history-changes")
    def _show_detail(self) -> None:
        """The highlighted change in full (the table cuts long values)."""
        c = self.query_one("#history-changes", LazyTable).current
        if c is None:
            self.query_one("#history-detail", Static).update(Text(""))
            return
        text = safe_text(c.account, 60, style="bold")
        text.append(f" · {c.action} · ")
        text.append_text(safe_text(c.reason, 100))
        text.append("\n")
        text.append_text(safe_text(c.diff, 150))
        text.no_wrap = False
        self.query_one("#history-detail", Static).update(text)

    # --- actions ----------------------------------------------------------------------------------

    def action_reload(self) -> None:
        self.load()

    def action_undo(self) -> None:
        run = self.latest
        if run is None:
            return
        body = Text(f"Run {run.number}: {run.kind} of {when(run.started_at)} UTC, "
                    f"{run.changes} changes (")
        body.append_text(safe_text(counts_summary(run.kind, run.counts), 120))
        body.append(").\n\nEvery change of the run is reverted. Accounts it added are deleted, "
                    "or archived when they have hours since; a merge gives the hours back. "
                    "The undo is recorded as a run of its own.")
        number = run.number

        def undone(counts: dict[str, Any]) -> None:
            self.query_one("#history-result", Static).update(Text(
                f"Undid run {counts.get('undid', number)}: {counts.get('changes', 0)} changes "
                "reverted.", style="bold green"))
            self.load()

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_core(self.core.undo, self.flow.site, then=undone,
                              failed=self._undo_failed, group="undo")

        self.app.push_screen(ConfirmDialog(f"Undo run {run.number}?", body, yes="Undo"),
                             answered)

    def _undo_failed(self, message: str) -> None:
        self.query_one("#history-result", Static).update(
            Text("Undo refused: ", style="bold red") + safe_text(message, 200))
        self.notify(message, title="Undo", severity="error", markup=False)
