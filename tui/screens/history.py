"""History beside the wizard flow: sync and merge runs, the changes of each, undo the latest."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Static

from core.sync.service import RunSummary, SyncError, changes_of, history, undo
from store import Store
from store.models import Account, Site
from tui.screens.side_common import Col, ConfirmScreen, FitTable, SideScreen, num, when
from tui.widgets.safe_text import clean_display, safe_text

__all__ = ["CHANGE_CAP", "HistoryScreen", "change_summary", "counts_summary"]

CHANGE_CAP = 500
"""Changes of one run shown at once (a first sync may add thousands)."""

RUN_COLUMNS = (
    Col("run", "Run", width=4, justify="right"),
    Col("when", "When (UTC)", width=16),
    Col("kind", "Kind", width=5),
    Col("counts", "What changed", ratio=1),
    Col("changes", "Rows", width=5, justify="right"),
    Col("state", "State", width=8),
)
CHANGE_COLUMNS = (
    Col("account", "Account", ratio=2),
    Col("action", "Action", width=10),
    Col("reason", "Reason", ratio=2, hide_below=90),
    Col("diff", "Before → after", ratio=4),
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


class HistoryScreen(SideScreen):
    """The site's runs, newest first; the changes of the highlighted run; undo the latest."""

    SCREEN_TITLE = "History"
    HELP = (
        "Every sync and merge of the site, newest first, and the undo runs. Move through the "
        "runs with the arrows: the lower table shows the changes of the highlighted run "
        "(the account, what was done, why, and each field before → after).\n\n"
        "  u    undo the latest run that is not undone yet (asks first). Accounts it added "
        "are deleted (archived when they have hours since); merges give the hours back. "
        "Hours are never deleted.\n"
        "  Tab  move between the runs and the changes    F5  reload    Esc  back"
    )

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("u", "undo", "Undo latest", id="history.undo",
                tooltip="Revert the latest sync or merge (asks first)"),
        Binding("f5", "reload", "Reload", id="history.reload", tooltip="Read the runs again"),
    ]

    DEFAULT_CSS = """
    HistoryScreen #history-runs { height: 1fr; }
    HistoryScreen #history-changes { height: 1fr; }
    """

    def __init__(self, store: Store, site: Site | str) -> None:
        super().__init__(store, site)
        self._runs: list[RunSummary] = []
        self._by_id: dict[int, RunSummary] = {}
        self._shown_run: int | None = None
        self._changes: list[_Change] = []

    def compose(self) -> ComposeResult:
        yield self.title_line()
        yield Static(Text("Reading the runs…"), classes="side-note", id="history-note")
        yield FitTable(RUN_COLUMNS, id="history-runs")
        yield Static(Text(""), classes="side-note", id="history-changes-title")
        yield FitTable(CHANGE_COLUMNS, id="history-changes")
        yield Static(Text(""), classes="side-line", id="history-detail")
        yield Static(Text(""), classes="side-line", id="history-result")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#history-runs", FitTable).focus()
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

    @work(thread=True, exclusive=True, group="history-load", exit_on_error=False)
    def load(self) -> None:
        with self.store.db.connection_context():
            runs = history(self.store, self.site, limit=200)
        self.app.call_from_thread(self._loaded, runs)

    def _loaded(self, runs: list[RunSummary]) -> None:
        self._runs = runs
        self._by_id = {r.id: r for r in runs}
        self.refresh_bindings()
        latest = self.latest
        note = f"{len(runs)} runs" if runs else "No runs yet: a sync or a merge shows here."
        if latest is not None:
            note += f" · u undoes run {latest.id} ({latest.kind})"
        self.query_one("#history-note", Static).update(Text(note))
        self._shown_run = None
        self.query_one("#history-runs", FitTable).set_data(
            [(str(r.id), self._run_cells(r)) for r in runs]
        )
        self._show_current()

    def _run_cells(self, r: RunSummary) -> list[Text]:
        state = "undone" if r.undone_at else ("running" if r.finished_at is None else "")
        if not state and self.latest is r:
            state = "latest"
        return [
            num(r.id),
            Text(when(r.started_at)),
            Text(r.kind),
            safe_text(counts_summary(r.kind, r.counts)),
            num(r.changes),
            Text(state, style="yellow" if state == "undone" else "bold" if state else ""),
        ]

    @on(DataTable.RowHighlighted, "#history-runs")
    def _run_highlighted(self) -> None:
        self._show_current()

    def _show_current(self) -> None:
        key = self.query_one("#history-runs", FitTable).current_key
        run = self._by_id.get(int(key)) if key is not None else None
        if run is None:
            self.query_one("#history-changes-title", Static).update(Text(""))
            self.query_one("#history-changes", FitTable).set_data([])
            return
        if run.id != self._shown_run:
            self._shown_run = run.id
            self.load_changes(run.id)

    # --- changes of one run -----------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="history-changes", exit_on_error=False)
    def load_changes(self, run_id: int) -> None:
        with self.store.db.connection_context():
            raw = changes_of(self.store, run_id)
            ids = {c["accountId"] for c in raw[:CHANGE_CAP] if c["accountId"] is not None}
            names = {
                a.id: a.email or f"{a.first_name} {a.last_name}".strip()
                for a in Account.select().where(Account.id.in_(sorted(ids)))
            }
        changes = [self._change(c, names) for c in raw[:CHANGE_CAP]]
        self.app.call_from_thread(self._changes_loaded, run_id, changes, len(raw))

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

    def _changes_loaded(self, run_id: int, changes: list[_Change], total: int) -> None:
        if run_id != self._shown_run:
            return
        shown = f"showing {len(changes)} of {total}" if total > len(changes) else f"{total}"
        self.query_one("#history-changes-title", Static).update(
            Text(f"Changes of run {run_id}: {shown}")
        )
        self._changes = changes
        self.query_one("#history-changes", FitTable).set_data([
            (str(i), [safe_text(c.account), Text(c.action), safe_text(c.reason),
                      safe_text(c.diff)])
            for i, c in enumerate(changes)
        ])
        self._show_detail()

    @on(DataTable.RowHighlighted, "#history-changes")
    def _change_highlighted(self) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        """The highlighted change in full (the table cuts long values)."""
        key = self.query_one("#history-changes", FitTable).current_key
        if key is None or int(key) >= len(self._changes):
            self.query_one("#history-detail", Static).update(Text(""))
            return
        c = self._changes[int(key)]
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
        body = Text(f"Run {run.id}: {run.kind} of {when(run.started_at)} UTC, "
                    f"{run.changes} changes (")
        body.append_text(safe_text(counts_summary(run.kind, run.counts), 120))
        body.append(").\n\nEvery change of the run is reverted. Accounts it added are deleted, "
                    "or archived when they have hours since; a merge gives the hours back. "
                    "The undo is recorded as a run of its own.")
        run_id = run.id

        def answered(yes: bool | None) -> None:
            if yes:
                self.undo_latest(run_id)

        self.app.push_screen(ConfirmScreen(f"Undo run {run.id}?", body, yes="Undo"), answered)

    @work(thread=True, exclusive=True, group="history-undo", exit_on_error=False)
    def undo_latest(self, run_id: int) -> None:
        try:
            with self.store.db.connection_context():
                done = undo(self.store, self.site)
                counts = done.counts
        except SyncError as err:
            self.app.call_from_thread(self._undo_failed, str(err))
            return
        self.app.call_from_thread(self._undone, run_id, counts)

    def _undo_failed(self, message: str) -> None:
        self.query_one("#history-result", Static).update(
            Text("Undo refused: ", style="bold red") + safe_text(message, 200))
        self.notify(clean_display(message), title="Undo", severity="error")

    def _undone(self, run_id: int, counts: str) -> None:
        import json

        data = json.loads(counts or "{}")
        self.query_one("#history-result", Static).update(Text(
            f"Undid run {data.get('undid', run_id)}: {data.get('changes', 0)} changes reverted.",
            style="bold green"))
        self.load()
