"""Families beside the wizard flow: the saved family groupings, and grouping FACTS family ids."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Input, Static

from core.sites import SiteError
from core.sync.service import group_families, load_setup
from store.models import Account
from tui.screens.side_common import Col, FitTable, SideScreen, num
from tui.widgets.safe_text import clean_display, safe_text

__all__ = ["FamiliesScreen", "parse_family_ids"]

COLUMNS = (
    Col("head", "Group", width=8, justify="right"),
    Col("ids", "FACTS family ids", ratio=2),
    Col("count", "Accounts", width=8, justify="right"),
    Col("who", "Who", ratio=3),
)

_SPLIT = re.compile(r"[\s,;]+")


def parse_family_ids(text: str) -> list[int]:
    """``"1201, 1305 1410"`` -> ``[1201, 1305, 1410]``; anything not a number is refused."""
    ids: list[int] = []
    for part in _SPLIT.split(text.strip()):
        if not part:
            continue
        if not part.isdigit() or not part.isascii():
            raise ValueError(f"{clean_display(part)[:30]!r} is not a family id (numbers only)")
        ids.append(int(part))
    if len(set(ids)) < 2:
        raise ValueError("name at least two different family ids, e.g. 1201 1305")
    return ids


@dataclass(frozen=True)
class _Group:
    ids: tuple[int, ...]
    accounts: list[str]


@dataclass(frozen=True)
class _State:
    has_setup: bool
    groups: list[_Group]


class FamiliesScreen(SideScreen):
    """The saved family groups (several FACTS family ids as one household); add a group."""

    SCREEN_TITLE = "Families"
    HELP = (
        "A family group makes several FACTS family ids count as one household (the same "
        "parents under two family records, for instance). The smallest id names the group; "
        "accounts of the group share it as their family at the next sync.\n\n"
        "Type two or more family ids in the box (separated by spaces or commas) and press "
        "Enter. Groups that share an id melt into one. Groups cannot be split here.\n\n"
        "  g  type ids to group    Down  back to the list    F5  reload    Esc  back"
    )

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("g", "group", "Group ids", id="families.group",
                tooltip="Type FACTS family ids to group into one household"),
        Binding("f5", "reload", "Reload", id="families.reload", tooltip="Read the groups again"),
        Binding("down", "to_table", "To list", show=False, id="families.to-list"),
    ]

    DEFAULT_CSS = """
    FamiliesScreen #families-ids { height: 3; }
    """

    def compose(self) -> ComposeResult:
        yield self.title_line()
        yield Static(Text("Reading the family groups…"), classes="side-note", id="families-note")
        yield FitTable(COLUMNS, id="families-table")
        yield Input(placeholder="Family ids to group, e.g. 1201 1305, then Enter",
                    id="families-ids")
        yield Static(Text(""), classes="side-line", id="families-result")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(FitTable).focus()
        self.load()

    def _read(self) -> _State:
        with self.store.db.connection_context():
            doc = load_setup(self.store, self.site)
            if doc is None:
                return _State(False, [])
            by_family: dict[str, list[str]] = defaultdict(list)
            ids = sorted({str(i) for g in doc.family_groups for i in g})
            for a in Account.select(Account.email, Account.first_name, Account.last_name,
                                    Account.family_key).where(
                (Account.site == self.site.id) & Account.family_key.in_(ids)
                & (Account.status == "active")
            ).order_by(Account.last_name, Account.first_name):
                name = f"{a.first_name} {a.last_name}".strip() or a.email or ""
                by_family[str(a.family_key)].append(clean_display(name))
        groups = [
            _Group(tuple(sorted(g)), [n for i in sorted(g) for n in by_family.get(str(i), [])])
            for g in sorted(doc.family_groups, key=min)
        ]
        return _State(True, groups)

    @work(thread=True, exclusive=True, group="families-load", exit_on_error=False)
    def load(self) -> None:
        self.app.call_from_thread(self._loaded, self._read())

    def _loaded(self, state: _State) -> None:
        if not state.has_setup:
            note = ("This site has no sync setup yet: choose the roster kind first (Begin Sync);"
                    " family groups are part of the setup.")
            self.query_one("#families-ids", Input).disabled = True
        elif state.groups:
            note = f"{len(state.groups)} family groups"
        else:
            note = "No family groups yet: type two or more FACTS family ids below."
        self.query_one("#families-note", Static).update(Text(note))
        self.query_one(FitTable).set_data([
            (str(min(g.ids)), [num(min(g.ids)), Text(", ".join(str(i) for i in g.ids)),
                               num(len(g.accounts)), safe_text(", ".join(g.accounts))])
            for g in state.groups
        ])

    # --- actions --------------------------------------------------------------------------------

    def action_group(self) -> None:
        self.query_one("#families-ids", Input).focus()

    def action_to_table(self) -> None:
        self.query_one(FitTable).focus()

    def action_reload(self) -> None:
        self.load()

    def _say(self, text: Text) -> None:
        self.query_one("#families-result", Static).update(text)

    @on(Input.Submitted, "#families-ids")
    def _submitted(self, event: Input.Submitted) -> None:
        try:
            ids = parse_family_ids(event.value)
        except ValueError as err:
            self._say(Text(str(err), style="bold red"))
            return
        self.group(ids)

    @work(thread=True, exclusive=True, group="families-group", exit_on_error=False)
    def group(self, ids: list[int]) -> None:
        try:
            with self.store.db.connection_context():
                doc = group_families(self.store, self.site, ids)
        except SiteError as err:
            self.app.call_from_thread(self._refused, str(err))
            return
        group = next((g for g in doc.family_groups if set(ids) <= set(g)), tuple(sorted(ids)))
        state = self._read()
        self.app.call_from_thread(self._grouped, tuple(group), state)

    def _refused(self, message: str) -> None:
        self._say(Text("Not grouped: ", style="bold red") + safe_text(message, 200))

    def _grouped(self, group: tuple[int, ...], state: _State) -> None:
        self.query_one("#families-ids", Input).value = ""
        self._loaded(state)
        self._say(Text(
            f"Grouped: families {', '.join(str(i) for i in group)} are one household "
            f"(group {min(group)}) from the next sync on.", style="bold green"))
