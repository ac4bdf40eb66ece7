"""Accounts beside the wizard flow: every account of a site, search as you type, merge two."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.timer import Timer
from textual.widgets import Footer, Input, Static

from core.accounts import AccountView, list_accounts, merge_accounts
from core.sync.apply import SyncError
from store import Store
from store.models import Site
from tui.screens.side_common import Col, ConfirmScreen, FitTable, SideScreen, num
from tui.widgets.safe_text import clean_display, safe_text

__all__ = ["AccountsScreen", "ROW_CAP", "matches"]

ROW_CAP = 200
"""Rows shown at once; the search narrows the rest (the note says "showing N of M")."""
FILTER_DELAY = 0.12
"""Seconds of no typing before the list is filtered again (Enter filters at once)."""

COLUMNS = (
    Col("mark", "", width=1),
    Col("email", "Email", ratio=3),
    Col("name", "Name", ratio=3),
    Col("status", "Status", width=8),
    Col("origin", "Origin", width=6, hide_below=90),
    Col("person", "Person", width=7, justify="right"),
    Col("family", "Family", width=7),
    Col("hours", "Hours", width=6, justify="right"),
    Col("invited", "Inv.", width=4, hide_below=90),
)


def _haystack(v: AccountView) -> str:
    parts = (v.email or "", v.first_name, v.last_name, str(v.person_id or ""), v.family_key or "")
    return " ".join(clean_display(p) for p in parts).casefold()


def matches(view: AccountView, terms: list[str], haystack: str | None = None) -> bool:
    """Every search term is in the account's email, name, personId or family."""
    text = haystack if haystack is not None else _haystack(view)
    return all(t in text for t in terms)


class AccountsScreen(SideScreen):
    """Every account of the site; mark one to keep and one to absorb, then merge them."""

    SCREEN_TITLE = "Accounts"
    HELP = (
        "Every account of the site, active first. Type in the search box to filter by name, "
        "email, personId or family (Down or Enter moves to the list).\n\n"
        "Merge two accounts (the same person twice):\n"
        "  k  mark the highlighted account as the one to KEEP\n"
        "  a  mark the highlighted account as the one to ABSORB\n"
        "  m  merge: the absorbed account's hours (and FACTS link) move to the kept one, and "
        "the absorbed account is archived. Nothing is deleted; History can undo the merge.\n"
        "  c  clear the marks    /  search    F5  reload    Esc  back"
    )

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", "Search", id="accounts.search", tooltip="Type to filter"),
        Binding("k", "mark('keep')", "Keep", id="accounts.keep",
                tooltip="Mark the highlighted account as the one to keep"),
        Binding("a", "mark('absorb')", "Absorb", id="accounts.absorb",
                tooltip="Mark the highlighted account as the one to absorb"),
        Binding("m", "merge", "Merge", id="accounts.merge",
                tooltip="Merge the absorbed account into the kept one (asks first)"),
        Binding("c", "clear_marks", "Clear", id="accounts.clear", tooltip="Clear keep/absorb"),
        Binding("f5", "reload", "Reload", show=False, id="accounts.reload",
                tooltip="Read the accounts again"),
        Binding("down", "to_table", "To list", show=False, id="accounts.to-list"),
    ]

    DEFAULT_CSS = """
    AccountsScreen #accounts-search { height: 3; }
    """

    def __init__(self, store: Store, site: Site | str) -> None:
        super().__init__(store, site)
        self._views: list[AccountView] = []
        self._hay: list[str] = []
        self._by_id: dict[int, AccountView] = {}
        self._shown: list[AccountView] = []
        self._cell_cache: dict[int, list[Text]] = {}
        self._filter_timer: Timer | None = None
        self.keep_id: int | None = None
        self.absorb_id: int | None = None

    def compose(self) -> ComposeResult:
        yield self.title_line()
        yield Input(placeholder="Search name, email, personId, family…", id="accounts-search")
        yield FitTable(COLUMNS, id="accounts-table")
        yield Static(Text("Loading accounts…"), classes="side-note", id="accounts-note")
        yield Static(Text(""), classes="side-line", id="accounts-result")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(FitTable).focus()
        self.load()

    # --- loading and filtering ----------------------------------------------------------------

    @work(thread=True, exclusive=True, group="accounts-load", exit_on_error=False)
    def load(self) -> None:
        with self.store.db.connection_context():
            views = list_accounts(self.site)
        self.app.call_from_thread(self._loaded, views)

    def _loaded(self, views: list[AccountView]) -> None:
        self._views = views
        self._hay = [_haystack(v) for v in views]
        self._by_id = {v.id: v for v in views}
        self._cell_cache = {}
        if self.keep_id not in self._by_id:
            self.keep_id = None
        if self.absorb_id not in self._by_id:
            self.absorb_id = None
        self._apply_filter()

    @on(Input.Changed, "#accounts-search")
    def _search_changed(self, event: Input.Changed) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(FILTER_DELAY, self._apply_filter)

    @on(Input.Submitted, "#accounts-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        self._apply_filter()
        self.query_one(FitTable).focus()

    def _apply_filter(self) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
            self._filter_timer = None
        terms = self.query_one("#accounts-search", Input).value.casefold().split()
        if terms:
            shown = [v for v, h in zip(self._views, self._hay, strict=True) if matches(v, terms, h)]
        else:
            shown = list(self._views)
        self._shown = shown
        self.query_one(FitTable).set_data([(str(v.id), self._cached(v)) for v in shown[:ROW_CAP]])
        self._update_note()

    def _mark_cell(self, account_id: int) -> Text:
        if account_id == self.keep_id:
            return Text("K", style="bold green")
        if account_id == self.absorb_id:
            return Text("A", style="bold red")
        return Text(" ")

    def _cached(self, v: AccountView) -> list[Text]:
        cells = self._cell_cache.get(v.id)
        if cells is None:
            cells = self._cell_cache[v.id] = self._cells(v)
        return cells

    def _cells(self, v: AccountView) -> list[Text]:
        name = f"{v.first_name} {v.last_name}".strip()
        muted = "dim" if v.status != "active" else ""
        return [
            self._mark_cell(v.id),
            safe_text(v.email, placeholder="(no email)", style=muted),
            safe_text(name, style=muted),
            Text(v.status, style="yellow" if v.status != "active" else ""),
            Text(v.origin),
            num(v.person_id) if v.person_id is not None else Text(""),
            safe_text(v.family_key),
            num(v.hours),
            Text("yes" if v.invited else ""),
        ]

    def _label(self, account_id: int | None) -> Text:
        view = self._by_id.get(account_id) if account_id is not None else None
        if view is None:
            return Text("—", style="dim")
        return safe_text(view.email or f"{view.first_name} {view.last_name}", 30)

    def _update_note(self) -> None:
        total, shown = len(self._views), len(self._shown)
        if shown > ROW_CAP:
            head = f"showing {ROW_CAP} of {shown} matching ({total} accounts): search to narrow"
        elif shown != total:
            head = f"showing {shown} of {total} accounts"
        else:
            head = f"{total} accounts"
        note = Text(head + " · keep: ")
        note.append_text(self._label(self.keep_id))
        note.append(" · absorb: ")
        note.append_text(self._label(self.absorb_id))
        self.query_one("#accounts-note", Static).update(note)

    # --- actions --------------------------------------------------------------------------------

    def action_search(self) -> None:
        self.query_one("#accounts-search", Input).focus()

    def action_to_table(self) -> None:
        self.query_one(FitTable).focus()

    def action_reload(self) -> None:
        self.load()

    def _current(self) -> AccountView | None:
        key = self.query_one(FitTable).current_key
        return self._by_id.get(int(key)) if key is not None else None

    def _refresh_marks(self, *ids: int | None) -> None:
        table = self.query_one(FitTable)
        shown = {str(v.id) for v in self._shown[:ROW_CAP]}
        for account_id in ids:
            if account_id is None:
                continue
            if account_id in self._cell_cache:
                self._cell_cache[account_id][0] = self._mark_cell(account_id)
            if str(account_id) in shown:
                table.set_cell(str(account_id), "mark", self._mark_cell(account_id))
        self._update_note()

    def action_mark(self, role: str) -> None:
        view = self._current()
        if view is None:
            return
        before = (self.keep_id, self.absorb_id)
        if role == "keep":
            self.keep_id = view.id
            if self.absorb_id == view.id:
                self.absorb_id = None
        else:
            self.absorb_id = view.id
            if self.keep_id == view.id:
                self.keep_id = None
        self._refresh_marks(*before, view.id)

    def action_clear_marks(self) -> None:
        before = (self.keep_id, self.absorb_id)
        self.keep_id = self.absorb_id = None
        self._refresh_marks(*before)

    def _say(self, text: Text) -> None:
        self.query_one("#accounts-result", Static).update(text)

    def action_merge(self) -> None:
        keep = self._by_id.get(self.keep_id) if self.keep_id is not None else None
        absorb = self._by_id.get(self.absorb_id) if self.absorb_id is not None else None
        if keep is None or absorb is None:
            self._say(Text("Mark one account to keep (k) and another to absorb (a) first.",
                           style="yellow"))
            return
        if not keep.email or not absorb.email:
            self._say(Text("Both accounts need an email to be merged.", style="yellow"))
            return
        body = Text()
        body.append("Keep:   ", style="bold green")
        body.append_text(self._describe(keep))
        body.append("\nAbsorb: ", style="bold red")
        body.append_text(self._describe(absorb))
        body.append(
            f"\n\n{absorb.hours:g} approved hours (and every other entry) move to the kept "
            "account; the absorbed account is archived. History can undo the merge."
        )
        keep_email, absorb_email = keep.email, absorb.email

        def answered(yes: bool | None) -> None:
            if yes:
                self.merge(keep_email, absorb_email)

        self.app.push_screen(ConfirmScreen("Merge these two accounts?", body, yes="Merge"),
                             answered)

    @staticmethod
    def _describe(v: AccountView) -> Text:
        text = safe_text(v.email, 40)
        text.append(" (")
        text.append_text(safe_text(f"{v.first_name} {v.last_name}".strip(), 30))
        text.append(f", {v.status}, {v.hours:g} h)")
        return text

    @work(thread=True, exclusive=True, group="accounts-merge", exit_on_error=False)
    def merge(self, keep: str, absorb: str) -> None:
        try:
            with self.store.db.connection_context():
                run = merge_accounts(self.site, keep=keep, absorb=absorb)
                counts = run.counts
                views = list_accounts(self.site)
        except SyncError as err:
            self.app.call_from_thread(self._merge_failed, str(err))
            return
        self.app.call_from_thread(self._merged, keep, absorb, counts, views)

    def _merge_failed(self, message: str) -> None:
        self._say(Text("Merge refused: ", style="bold red") + safe_text(message, 200))
        self.notify(clean_display(message), title="Merge refused", severity="error")

    def _merged(self, keep: str, absorb: str, counts: str, views: list[AccountView]) -> None:
        import json

        data = json.loads(counts or "{}")
        text = Text("Merged ", style="bold green")
        text.append_text(safe_text(absorb, 40))
        text.append(" into ")
        text.append_text(safe_text(keep, 40))
        text.append(
            f": {data.get('entries_moved', 0)} entries "
            f"({float(data.get('hours_moved', 0)):g} approved hours) moved. Undo: History."
        )
        self._say(text)
        self.keep_id = self.absorb_id = None
        self._loaded(views)
