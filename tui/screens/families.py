"""Families beside the wizard flow: the saved family groupings, and grouping FACTS family ids."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input, Static

from tui.flow import StepId
from tui.screens.base import RELOAD, FactsyncScreen
from tui.widgets.lazy_table import Column, LazyTable
from tui.widgets.safe_text import clean_display, safe_text

if TYPE_CHECKING:
    from core.workspace import FamiliesState, FamilyGroup

__all__ = ["FamiliesScreen", "parse_family_ids"]

COLUMNS = (
    Column("Group", width=8, justify="right"),
    Column("FACTS family ids", ratio=2),
    Column("Accounts", width=8, justify="right"),
    Column("Who", ratio=3),
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


class FamiliesScreen(FactsyncScreen[None]):
    """The saved family groups (several FACTS family ids as one household); add a group."""

    STEP = StepId.FAMILIES
    HELP = """\
# Families

A family group makes several FACTS family ids count as one household (the same parents under
two family records, for instance). The smallest id names the group; accounts of the group share
it as their family at the next sync.

Type two or more family ids in the box (separated by spaces or commas) and press **Enter**.
Groups that share an id melt into one. Groups cannot be split here. **g** goes to the box,
**Down** back to the list.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("g", "group", "Group ids", id="families.group",
                tooltip="Type FACTS family ids to group into one household"),
        RELOAD,
        Binding("down", "to_table", "To list", show=False, id="families.to-list"),
    ]

    DEFAULT_CSS = """
    FamiliesScreen #families-ids { height: 3; }
    """

    def body(self) -> ComposeResult:
        yield Static(Text("Reading the family groups…"), classes="side-note", id="families-note")
        yield LazyTable(COLUMNS, self._cells, id="families-table", select_on_enter=False,
                        empty="No family group.")
        yield Input(placeholder="Family ids to group, e.g. 1201 1305, then Enter",
                    id="families-ids")
        yield Static(Text(""), classes="side-note", id="families-result")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(LazyTable).focus()
        self.load()

    def load(self) -> None:
        self.run_core(self.core.families, self.flow.site, then=self._loaded)

    def _loaded(self, state: FamiliesState) -> None:
        if not state.has_setup:
            note = ("This site has no sync setup yet: choose the roster kind first (Begin Sync);"
                    " family groups are part of the setup.")
            self.query_one("#families-ids", Input).disabled = True
        elif state.groups:
            note = f"{len(state.groups)} family groups"
        else:
            note = "No family groups yet: type two or more FACTS family ids below."
        self.query_one("#families-note", Static).update(Text(note))
        self.query_one(LazyTable).set_rows(state.groups)

    @staticmethod
    def _cells(g: FamilyGroup) -> list[Text]:
        return [Text(str(min(g.ids)), justify="right"), Text(", ".join(str(i) for i in g.ids)),
                Text(str(len(g.accounts)), justify="right"), safe_text(", ".join(g.accounts))]

    # --- actions --------------------------------------------------------------------------------

    def action_group(self) -> None:
        self.query_one("#families-ids", Input).focus()

    def action_to_table(self) -> None:
        self.query_one(LazyTable).focus()

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
        self.run_core(self.core.group_families, self.flow.site, ids, then=self._grouped,
                      failed=self._refused, group="families-group")

    def _refused(self, message: str) -> None:
        self._say(Text("Not grouped: ", style="bold red") + safe_text(message, 200))

    def _grouped(self, group: tuple[int, ...]) -> None:
        self.query_one("#families-ids", Input).value = ""
        self.load()
        self._say(Text(
            f"Grouped: families {', '.join(str(i) for i in group)} are one household "
            f"(group {min(group)}) from the next sync on.", style="bold green"))
