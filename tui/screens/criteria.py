"""Criteria: schools, statuses, grade levels (and relationship groups) as this school spells them.

The choices are read from the roster FACTS just sent, with how many students (or parent links)
each has, so nothing is typed. The count of matching students updates as boxes are ticked.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid
from textual.widgets import SelectionList, Static
from textual.widgets.selection_list import Selection

from core.sync.criteria import (
    Choice,
    CriteriaCount,
    CriteriaOptions,
    count_criteria,
    criteria_options,
)
from core.sync.setup import RELATIONSHIP_GROUPS, Criteria, ParentRules, SetupDoc
from tui.flow import StepId
from tui.screens.base import FactsyncScreen
from tui.services import Services, plural
from tui.widgets.safe_text import safe_text


def _rules(doc: SetupDoc) -> tuple[object, ...]:
    """What the selection depends on (no relationship filter = every relationship)."""
    rel = doc.parents.relationships
    return (doc.kind, doc.criteria, tuple(sorted(rel if rel is not None else RELATIONSHIP_GROUPS)))


def _prompt(choice: Choice, width: int = 40) -> Text:
    t = safe_text(choice.label, 14)
    t.append(f" {choice.count:,}", style="dim")
    if choice.detail:
        t.append(" ")
        t.append_text(safe_text(choice.detail, width, style="dim"))
    return t


class CriteriaScreen(FactsyncScreen[None]):
    TITLE_TEXT = "Criteria"
    STEP = StepId.CRITERIA
    HELP = """\
# Criteria

Which students match, in the words this school uses in FACTS (read from FACTS, nothing to type):

- **Schools**: none ticked means every school.
- **Statuses**: *Enrolled* means current students; others are graduates, withdrawals, applicants.
- **Grade levels**: none ticked means every grade.
- **Relationships** (parents sites): which kinds of parent count at all; the review's presets
  narrow further.

Space ticks a box, Tab moves between lists, Enter saves and goes on to the review.
"""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back", tooltip="Back to the roster kind"),
        Binding("enter", "next", "Next", id="next", tooltip="Save the criteria and review",
                priority=True),
        Binding("tab", "app.focus_next", "Next list", id="criteria.tab", show=False),
    ]

    def __init__(self, services: Services, site: str) -> None:
        super().__init__(services, site)
        self.kind = "parents"
        self.options: CriteriaOptions | None = None
        self.setup: SetupDoc | None = None

    def body(self) -> ComposeResult:
        with Grid(id="criteria"):
            yield SelectionList[str](id="schools", classes="criteria-list")
            yield SelectionList[str](id="statuses", classes="criteria-list")
            yield SelectionList[str](id="grades", classes="criteria-list")
            yield SelectionList[str](id="relationships", classes="criteria-list")
        yield Static(id="criteria-count", classes="totals")

    def on_mount(self) -> None:
        super().on_mount()
        titles = {
            "schools": "Schools (none = all)",
            "statuses": "Statuses",
            "grades": "Grade levels (none = all)",
            "relationships": "Relationships that count",
        }
        for key, title in titles.items():
            self.query_one(f"#{key}", SelectionList).border_title = title
        self.load()

    def load(self) -> None:
        roster = self.flow.roster
        assert roster is not None
        self.run_core(lambda: (self.core.setup(self.flow.site), criteria_options(roster)),
                      then=lambda loaded: self._loaded(*loaded))

    def _loaded(self, setup: SetupDoc, options: CriteriaOptions) -> None:
        self.setup = setup
        self.options = options
        self.kind = setup.kind
        crit = setup.criteria
        rel = setup.parents.relationships

        def fill(list_id: str, choices: tuple[Choice, ...], chosen: set[str]) -> None:
            widget = self.query_one(f"#{list_id}", SelectionList)
            widget.clear_options()
            folded = {c.casefold() for c in chosen}
            widget.add_options(
                [Selection(_prompt(c), c.value, c.value.casefold() in folded) for c in choices]
            )

        fill("schools", options.schools, set(crit.schools))
        fill("statuses", options.statuses, set(crit.statuses))
        fill("grades", options.grades, set(crit.grades))
        rels = self.query_one("#relationships", SelectionList)
        if setup.kind == "parents":
            fill("relationships", options.relationships,
                 set(rel) if rel is not None else set(RELATIONSHIP_GROUPS))
        else:
            rels.display = False
        self.query_one("#statuses", SelectionList).focus()
        self._recount()

    def _chosen(self, list_id: str) -> list[str]:
        return list(self.query_one(f"#{list_id}", SelectionList).selected)

    def _draft(self) -> SetupDoc:
        assert self.setup is not None
        statuses = self._chosen("statuses") or list(self.setup.criteria.statuses)
        criteria = Criteria(
            schools=tuple(self._chosen("schools")),
            statuses=tuple(statuses),
            grades=tuple(self._chosen("grades")),
        )
        doc = self.setup.model_copy(update={"criteria": criteria})
        if self.kind == "parents":
            rel = self._chosen("relationships")
            everything = set(rel) >= {c.value for c in (self.options.relationships
                                                        if self.options else ())}
            parents = ParentRules.model_validate(
                {
                    "preset": self.setup.parents.preset,
                    "relationships": None if everything else rel,
                    "overrides": self.setup.parents.overrides,
                }
            )
            doc = doc.model_copy(update={"parents": parents})
        return doc

    @on(SelectionList.SelectedChanged)
    def _changed(self) -> None:
        self._recount()

    def _recount(self) -> None:
        if self.setup is None:
            return
        self.query_one("#criteria-count", Static).update(Text("Counting…", style="dim"))
        self._count(self._draft())

    def _count(self, draft: SetupDoc) -> None:
        roster = self.flow.roster
        assert roster is not None
        self.run_core(count_criteria, roster, draft, then=self._counted, group="criteria-count")

    def _counted(self, count: CriteriaCount) -> None:
        self.flow.counted = count
        t = Text(end="")
        t.append(f"{plural(count.matched_students, 'student')} match", style="bold")
        if count.setup.kind == "parents":
            t.append(f" · {plural(count.candidates, 'parent')} before the review")
        else:
            t.append(f" · {plural(count.candidates, 'student')} to roster")
        t.append(f" · FACTS lists {count.enrolled_students:,} enrolled", style="dim")
        self.query_one("#criteria-count", Static).update(t)

    def action_next(self) -> None:
        if self.setup is None:
            return
        draft = self._draft()
        if not draft.criteria.statuses:
            self.notify("Tick at least one status.", severity="warning")
            return
        self.run_core(self.core.save_criteria, self.flow.site, draft, then=self._saved,
                      group="criteria-save")

    def _saved(self, saved: SetupDoc) -> None:
        flow = self.flow
        counted = flow.counted
        flow.forget_plan()
        flow.review = None
        if counted is not None and _rules(counted.setup) != _rules(saved):
            flow.counted = None  # counted for another draft: the review selects afresh
        self.next_step()
