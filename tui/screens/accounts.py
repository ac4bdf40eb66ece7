"""Accounts beside the wizard flow: every account of a site, search as you type, merge two.

Typing always searches: the search box has the focus, and a printable key pressed in the list
goes to the search too, unless it is one of the list's own keys, which only work while the list
has the focus and are shown then (k keep, a absorb, m merge, c clear).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.timer import Timer
from textual.widgets import Input, Static

from tui.dialogs import ConfirmDialog
from tui.flow import StepId
from tui.screens.base import RELOAD, FactsyncScreen
from tui.services import Services
from tui.widgets.lazy_table import Column, LazyTable
from tui.widgets.safe_text import clean_display, safe_text

if TYPE_CHECKING:
    from core.accounts import AccountView
    from core.workspace import MergeOutcome

__all__ = ["AccountsScreen", "matches"]

FILTER_DELAY = 0.12
"""Seconds of no typing before the list is filtered again (Enter filters at once)."""

COLUMNS = (
    Column("", width=1, min_width=1),
    Column("Email", ratio=3),
    Column("Name", ratio=3),
    Column("Status", width=8),
    Column("Origin", width=6, hide_below=90),
    Column("Person", width=7, justify="right"),
    Column("Family", width=7, hide_below=76),
    Column("Hours", width=6, justify="right"),
    Column("Inv.", width=4, hide_below=90),
)


def _haystack(v: AccountView) -> str:
    parts = (v.email or "", v.first_name, v.last_name, str(v.person_id or ""), v.family_key or "")
    return " ".join(clean_display(p) for p in parts).casefold()


def matches(view: AccountView, terms: list[str], haystack: str | None = None) -> bool:
    """Every search term is in the account's email, name, personId or family."""
    text = haystack if haystack is not None else _haystack(view)
    return all(t in text for t in terms)


def _num(value: float | int | None) -> Text:
    text = "" if value is None else (f"{value:g}" if isinstance(value, float) else str(value))
    return Text(text, justify="right", no_wrap=True, end="")


class AccountsTable(LazyTable):
    """The accounts list: its one-letter keys work only while it has the focus."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("k", "screen.mark('keep')", "Keep", id="accounts.keep",
                tooltip="Mark the highlighted account as the one to keep"),
        Binding("a", "screen.mark('absorb')", "Absorb", id="accounts.absorb",
                tooltip="Mark the highlighted account as the one to absorb"),
        Binding("m", "screen.merge", "Merge", id="accounts.merge",
                tooltip="Merge the absorbed account into the kept one (asks first)"),
        Binding("c", "screen.clear_marks", "Clear", id="accounts.clear",
                tooltip="Clear keep/absorb"),
    ]

    def on_key(self, event: events.Key) -> None:
        """Any other printable key starts a search with it."""
        if event.is_printable and event.character and event.key not in ("k", "a", "m", "c",
                                                                           "space"):
            event.stop()
            screen = self.screen
            if isinstance(screen, AccountsScreen):
                screen.search_with(event.character)


class AccountsScreen(FactsyncScreen[None]):
    """Every account of the site; mark one to keep and one to absorb, then merge them."""

    STEP = StepId.ACCOUNTS
    HELP = """\
# Accounts

Every account of the site, active first. **Type** to filter by name, email, personId or family
(the search box has the focus; Down or Enter moves to the list).

Merge two accounts (the same person twice), in the list:

- **k** marks the highlighted account as the one to KEEP, **a** the one to ABSORB
- **m** merges: the absorbed account's hours (and FACTS link) move to the kept one, and the
  absorbed account is archived. Nothing is deleted; History can undo the merge.
- **c** clears the marks. Typing any other letter in the list searches.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down", "to_table", "To list", show=False, id="accounts.to-list"),
        RELOAD,
    ]

    DEFAULT_CSS = """
    AccountsScreen #accounts-search { height: 3; }
    AccountsScreen .side-note { height: auto; max-height: 2; }
    """

    def __init__(self, services: Services, site: str) -> None:
        super().__init__(services, site)
        self._views: list[AccountView] = []
        self._hay: list[str] = []
        self._by_id: dict[int, AccountView] = {}
        self._shown: list[AccountView] = []
        self._filter_timer: Timer | None = None
        self.keep_id: int | None = None
        self.absorb_id: int | None = None

    def body(self) -> ComposeResult:
        yield Input(placeholder="Type to search name, email, personId, family…",
                    id="accounts-search")
        yield AccountsTable(COLUMNS, self._cells, id="accounts-table", select_on_enter=False,
                            empty="No account matches.")
        yield Static(Text("Loading accounts…"), classes="side-note", id="accounts-note")
        yield Static(Text(""), classes="side-note", id="accounts-result")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#accounts-search", Input).focus()
        self.load()

    # --- loading and filtering ----------------------------------------------------------------

    def load(self) -> None:
        self.run_core(self.core.accounts, self.flow.site, then=self._loaded)

    def _loaded(self, views: list[AccountView]) -> None:
        self._views = views
        self._hay = [_haystack(v) for v in views]
        self._by_id = {v.id: v for v in views}
        if self.keep_id not in self._by_id:
            self.keep_id = None
        if self.absorb_id not in self._by_id:
            self.absorb_id = None
        self._apply_filter()

    def search_with(self, character: str) -> None:
        box = self.query_one("#accounts-search", Input)
        box.focus()
        box.insert_text_at_cursor(character)

    @on(Input.Changed, "#accounts-search")
    def _search_changed(self, event: Input.Changed) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(FILTER_DELAY, self._apply_filter)

    @on(Input.Submitted, "#accounts-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        self._apply_filter()
        self.action_to_table()

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
        self.query_one(AccountsTable).set_rows(shown)
        self._update_note()

    def _cells(self, v: AccountView) -> list[Text]:
        name = f"{v.first_name} {v.last_name}".strip()
        muted = "dim" if v.status != "active" else ""
        mark = (Text("K", style="bold green") if v.id == self.keep_id
                else Text("A", style="bold red") if v.id == self.absorb_id else Text(" "))
        return [
            mark,
            safe_text(v.email, placeholder="(no email)", style=muted),
            safe_text(name, style=muted),
            Text(v.status, style="yellow" if v.status != "active" else ""),
            Text(v.origin),
            _num(v.person_id),
            safe_text(v.family_key),
            _num(v.hours),
            Text("yes" if v.invited else ""),
        ]

    def _label(self, account_id: int | None) -> Text:
        view = self._by_id.get(account_id) if account_id is not None else None
        if view is None:
            return Text("—", style="dim")
        return safe_text(view.email or f"{view.first_name} {view.last_name}", 28)

    def _update_note(self) -> None:
        total, shown = len(self._views), len(self._shown)
        head = f"{shown:,} of {total:,} accounts" if shown != total else f"{total:,} accounts"
        note = Text(head + " · keep ", end="")
        note.append_text(self._label(self.keep_id))
        note.append(" · absorb ")
        note.append_text(self._label(self.absorb_id))
        if self.focused is self.query_one(AccountsTable):
            note.append("\nList keys: k keep · a absorb · m merge · c clear · other letters "
                        "search", style="dim")
        self.query_one("#accounts-note", Static).update(note)

    def on_descendant_focus(self) -> None:
        if self._views:
            self._update_note()

    # --- actions --------------------------------------------------------------------------------

    def action_to_table(self) -> None:
        self.query_one(AccountsTable).focus()
        self._update_note()

    def action_reload(self) -> None:
        self.load()

    def action_mark(self, role: str) -> None:
        view = self.query_one(AccountsTable).current
        if view is None:
            return
        if role == "keep":
            self.keep_id = view.id
            if self.absorb_id == view.id:
                self.absorb_id = None
        else:
            self.absorb_id = view.id
            if self.keep_id == view.id:
                self.keep_id = None
        self.query_one(AccountsTable).refresh()
        self._update_note()

    def action_clear_marks(self) -> None:
        self.keep_id = self.absorb_id = None
        self.query_one(AccountsTable).refresh()
        self._update_note()

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
                self.run_core(self.core.merge, self.flow.site, keep_email, absorb_email,
                              then=lambda done: self._merged(keep_email, absorb_email, done),
                              failed=self._merge_failed, group="accounts-merge")

        self.app.push_screen(ConfirmDialog("Merge these two accounts?", body, yes="Merge"),
                             answered)

    @staticmethod
    def _describe(v: AccountView) -> Text:
        text = safe_text(v.email, 40)
        text.append(" (")
        text.append_text(safe_text(f"{v.first_name} {v.last_name}".strip(), 30))
        text.append(f", {v.status}, {v.hours:g} h)")
        return text

    def _merge_failed(self, message: str) -> None:
        self._say(Text("Merge refused: ", style="bold red") + safe_text(message, 200))
        self.notify(message, title="Merge refused", severity="error", markup=False)

    def _merged(self, keep: str, absorb: str, done: MergeOutcome) -> None:
        text = Text("Merged ", style="bold green")
        text.append_text(safe_text(absorb, 40))
        text.append(" into ")
        text.append_text(safe_text(keep, 40))
        text.append(f": {done.entries_moved} entries ({done.hours_moved:g} approved hours) "
                    "moved. Undo: History.")
        self._say(text)
        self.keep_id = self.absorb_id = None
        self._loaded(done.accounts)
