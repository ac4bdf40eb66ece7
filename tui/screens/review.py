"""Review: for parents the subset grid, for students the list to be rostered; both filterable."""

from __future__ import annotations

from collections import deque
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Input, Static

from core.sync.plan import PlanItem, SyncPlan
from core.sync.review import Change, ReviewModel, Totals
from tui.flow import StepId
from tui.screens.base import FactsyncScreen
from tui.services import Services, plural
from tui.widgets.lazy_table import Column, LazyTable
from tui.widgets.safe_text import safe_text
from tui.widgets.subset_grid import PRESET_KEYS, SubsetGrid

ACTION_WORDS = {
    "add": ("new", "green"),
    "link": ("merge by email", "cyan"),
    "update": ("update", "yellow"),
    "unchanged": ("unchanged", "dim"),
    "restore": ("restore", "green"),
    "skip": ("skip", "dim"),
    "conflict": ("waits", "red"),
    "archive": ("archive", "red"),
}


def totals_text(t: Totals, preset: str) -> Text:
    out = Text(end="")
    out.append("Families ", style="bold")
    out.append(f"{t.families_importable:,} in · {t.families_excluded:,} out  ")
    out.append("Users ", style="bold")
    out.append(f"{t.users_to_sync:,} sync · {t.users_to_skip:,} skip  ")
    out.append("Preset ", style="bold")
    out.append(PRESET_KEYS.get(preset, ("", preset))[1], style="reverse")
    return out


class ReviewParentsScreen(FactsyncScreen[None]):
    TITLE_TEXT = "Review parents"
    STEP = StepId.REVIEW
    HELP = """\
# Review: the parent subset grid

One row per family, one column per parent (listed first on the left). **[x]** is included,
**[ ]** left out; **\\*** marks a choice you made for that family rather than the preset.

- Presets: **a** all parents · **m** mothers & fathers · **f** listed first only · **c** custodial
  only. A preset changes everyone at once; your per-family choices stay.
- **Space** includes or excludes the parent under the cursor; **x** excludes (or brings back)
  the whole family.
- **/** filters by family, student, parent name or email.

The line under the grid explains the parent under the cursor. Every change is saved at once.
"""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back", tooltip="Back to the criteria"),
        Binding("enter", "next", "Next", id="next", tooltip="Go on to the conflicts"),
        Binding("slash", "filter", "Filter", id="review.filter",
                tooltip="Find families by name, student, parent or email"),
    ]

    ready: reactive[bool] = reactive(False, bindings=True)

    def __init__(self, services: Services, site: str) -> None:
        super().__init__(services, site)
        self.source: ReviewModel | None = None
        self.pending: deque[Change] = deque()
        self.saving = False
        self.leaving = False

    def body(self) -> ComposeResult:
        yield Static(Text("Building the grid…", style="dim"), id="grid-totals", classes="totals")
        yield Input(placeholder="filter families… (Enter to return to the grid)",
                    id="grid-filter", classes="filter")
        yield Vertical(id="grid-holder")
        yield Static(id="grid-detail", classes="detail")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#grid-filter", Input).display = False
        self.load()

    def load(self) -> None:
        flow = self.flow
        if flow.review is not None:
            self._loaded(flow.review)
            return
        roster = flow.roster
        assert roster is not None
        counted = flow.counted.selection if flow.counted is not None else None
        self.run_core(self.core.review, flow.site, roster, counted, then=self._loaded)

    def _loaded(self, source: ReviewModel) -> None:
        self.flow.review = source
        self.source = source
        grid = SubsetGrid(source, id="grid")
        self.query_one("#grid-holder").mount(grid)
        grid.focus()
        self.ready = True
        self._show_totals()
        self._show_detail()

    def _show_totals(self) -> None:
        if self.source is not None:
            self.query_one("#grid-totals", Static).update(
                totals_text(self.source.totals(), self.source.preset)
            )

    def _show_detail(self) -> None:
        grid = self.query("#grid").first(SubsetGrid) if self.query("#grid") else None
        detail = self.query_one("#grid-detail", Static)
        if grid is None or self.source is None:
            return
        row, slot, state = grid.current
        if row < 0:
            detail.update(Text("No family matches the filter.", style="dim"))
            return
        fid, name, students = self.source.family(row)
        t = Text(no_wrap=True, overflow="ellipsis", end="")
        t.append("Family ", style="bold")
        t.append_text(safe_text(name, 30))
        t.append(f" (FACTS family {fid})", style="dim")
        t.append(" · students ")
        t.append_text(safe_text(students, 50))
        t.append("\n")
        if slot is None or state is None:
            t.append("No parent of a matching student in this family.", style="dim")
        else:
            t.append_text(safe_text(slot.name, 30, style="bold"))
            t.append(" · ")
            t.append_text(safe_text(slot.relationship or "no relationship", 20))
            if slot.listed_first:
                t.append(" · listed first")
            if slot.custody:
                t.append(" · custody")
            t.append(" · ")
            t.append_text(safe_text(slot.email or "no email", 40))
            t.append("\n")
            if state.included:
                t.append("included", style="green")
                t.append(" (your choice for this family)" if state.overridden
                         else " by the preset", style="dim")
            else:
                reason = state.reason
                if reason.startswith("left out"):
                    t.append_text(safe_text(reason[:1].upper() + reason[1:], 120, style="red"))
                else:
                    t.append("Left out: ", style="red")
                    t.append_text(safe_text(reason, 110))
        detail.update(t)

    @on(SubsetGrid.Moved)
    def _moved(self) -> None:
        self._show_detail()

    @on(SubsetGrid.Changed)
    def _changed(self, event: SubsetGrid.Changed) -> None:
        self.flow.forget_plan()
        self.pending.append(event.change)
        self._save_next()
        self._show_totals()

    def _save_next(self) -> None:
        """Save changes one at a time, in order (each rewrites the setup document)."""
        if self.saving:
            return
        if not self.pending:
            if self.leaving:
                self.leaving = False
                self.next_step()
            return
        self.saving = True
        change = self.pending.popleft()
        self.run_core(self.core.save_review_change, self.flow.site, change,
                      then=self._saved_one, failed=self._save_failed, group="review-save",
                      exclusive=False)

    def _saved_one(self, _: object) -> None:
        self.saving = False
        self._save_next()

    def _save_failed(self, message: str) -> None:
        self.notify(message, severity="error", markup=False)
        self._saved_one(None)

    @property
    def saved(self) -> bool:
        """Every change so far is in the store."""
        return not self.saving and not self.pending

    def action_filter(self) -> None:
        box = self.query_one("#grid-filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#grid-filter")
    def _filter(self, event: Input.Changed) -> None:
        if self.query("#grid"):
            self.query_one("#grid", SubsetGrid).set_filter(event.value)

    @on(Input.Submitted, "#grid-filter")
    def _filter_done(self) -> None:
        if self.query("#grid"):
            self.query_one("#grid", SubsetGrid).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next":
            return True if self.ready else None
        return True

    def action_next(self) -> None:
        """On to the conflicts once every change is saved (the planner reads the saved setup)."""
        if not self.ready:
            return
        self.flow.forget_plan()
        self.leaving = True
        self._save_next()


def _item_cells(it: PlanItem) -> list[str | Text]:
    word, style = ACTION_WORDS.get(it.action, (it.action, ""))
    grade = it.target.grade if it.target is not None else (it.before.grade if it.before else None)
    return [
        safe_text(it.name),
        safe_text(grade or ""),
        safe_text(it.email or "no email", style="" if it.email else "dim"),
        Text(word, style=style),
        safe_text(it.reason, style="dim"),
    ]


STUDENT_COLUMNS = (
    Column("Student", ratio=3),
    Column("Grade", width=5),
    Column("Email", ratio=3),
    Column("Will", width=14),
    Column("Why", ratio=3),
)


def plan_totals(plan: SyncPlan) -> Text:
    c = plan.counts()
    t = Text(end="", no_wrap=True, overflow="ellipsis")
    t.append(f"{plural(c['added'] + c['linked'] + c['updated'] + c['unchanged'] + c['restored'], 'student')} to roster", style="bold")
    t.append(f": {c['added']} new · {c['linked']} merged by email · {c['updated']} updated · "
             f"{c['unchanged']} unchanged   ")
    t.append(f"{c['skipped']} skipped", style="dim")
    if c["conflicts"]:
        t.append(" · ")
        t.append(f"{len(plan.of('conflict'))} wait for a decision", style="red")
    return t


class ReviewStudentsScreen(FactsyncScreen[None]):
    TITLE_TEXT = "Review students"
    STEP = StepId.REVIEW
    HELP = """\
# Review: students

Everyone the criteria match, with what the sync would do: **new** account, **merge by email**
with an account the site already has, **update**, **unchanged**, **skip** (a decision said so),
or **waits** (a conflict to decide next). **/** filters by name, email or grade.
"""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back", tooltip="Back to the criteria"),
        Binding("enter", "next", "Next", id="next", tooltip="Go on to the conflicts"),
        Binding("slash", "filter", "Filter", id="review.filter", tooltip="Search the list"),
    ]

    ready: reactive[bool] = reactive(False, bindings=True)

    def __init__(self, services: Services, site: str) -> None:
        super().__init__(services, site)
        self.items: list[PlanItem] = []

    def body(self) -> ComposeResult:
        yield Static(Text("Planning…", style="dim"), id="students-totals", classes="totals")
        yield Input(placeholder="search students… (Enter to return to the list)",
                    id="students-filter", classes="filter")
        yield LazyTable(STUDENT_COLUMNS, _item_cells, id="students", select_on_enter=False,
                        empty="No student matches.")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#students-filter", Input).display = False
        self.query_one("#students", LazyTable).focus()
        self.load()

    def load(self) -> None:
        self.with_plan(self._loaded)

    def _loaded(self, plan: SyncPlan) -> None:
        order = {"conflict": 0, "add": 1, "link": 2, "update": 3, "restore": 4, "unchanged": 5,
                 "skip": 6}
        self.items = sorted(
            (it for it in plan.items if it.action != "archive"),
            key=lambda it: (order.get(it.action, 9), it.name.casefold()),
        )
        self.query_one("#students", LazyTable).set_rows(self.items, keep_cursor=False)
        self.query_one("#students-totals", Static).update(plan_totals(plan))
        self.ready = True

    def action_filter(self) -> None:
        box = self.query_one("#students-filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#students-filter")
    def _filter(self, event: Input.Changed) -> None:
        needle = event.value.strip().casefold()
        rows = [
            it for it in self.items
            if not needle or needle in " ".join(
                [it.name, it.email or "", (it.target.grade or "") if it.target else ""]
            ).casefold()
        ]
        self.query_one("#students", LazyTable).set_rows(rows, keep_cursor=False)

    @on(Input.Submitted, "#students-filter")
    def _filter_done(self) -> None:
        self.query_one("#students", LazyTable).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next":
            return True if self.ready else None
        return True

    def action_next(self) -> None:
        if self.ready:
            self.next_step()
