"""Criteria: schools, statuses, grade levels (and relationship groups) as this school spells them.

The choices are read from the roster FACTS just sent, with how many students (or parent links)
each has, so nothing is typed. The count of matching students updates as boxes are ticked.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid
from textual.widgets import SelectionList, Static
from textual.widgets.selection_list import Selection

from core.roster import Roster
from core.sites import SiteError
from core.sync import service
from core.sync.relationships import normalize_relationship
from core.sync.selection import select
from core.sync.setup import RELATIONSHIP_GROUPS, Criteria, ParentRules, SetupDoc
from tui import navigation
from tui.screens.base import WizardScreen
from tui.services import Services, error_text, plural
from tui.widgets.safe_text import clean_display, safe_text

GROUP_LABELS = {
    "mother": "Mother",
    "father": "Father",
    "stepmother": "Stepmother",
    "stepfather": "Stepfather",
    "guardian": "Guardian",
    "grandparent": "Grandparent",
    "other": "Other",
}


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    count: int
    detail: str = ""


@dataclass(frozen=True)
class CriteriaOptions:
    schools: tuple[Choice, ...]
    statuses: tuple[Choice, ...]
    grades: tuple[Choice, ...]
    relationships: tuple[Choice, ...]


_EARLY = {"nur": -3, "n": -3, "ps": -3, "pk": -2, "prek": -2, "tk": -1, "k": 0, "kg": 0, "kdg": 0}


def grade_order(grade: str) -> tuple[int, str]:
    """Grades in school order: nursery, pre-K, K, then 1..12 (however they are spelled)."""
    key = re.sub(r"[^a-z0-9]", "", grade.casefold())
    if key in _EARLY:
        return (_EARLY[key], key)
    digits = re.sub(r"\D", "", key)
    if digits:
        return (int(digits), key)
    return (100, key)


def criteria_options(roster: Roster) -> CriteriaOptions:
    """The values this school uses, counted per student (relationships per parent link)."""
    names = {
        (s.schoolCode or "").strip(): clean_display(s.schoolName) for s in roster.schools
    }
    schools: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    grades: Counter[str] = Counter()
    for st in roster.students:
        schools[(st.schoolCode or "").strip()] += 1
        if st.school is not None:
            statuses[(st.school.status or "").strip()] += 1
            grades[(st.school.gradeLevel or "").strip()] += 1
    spellings: dict[str, Counter[str]] = defaultdict(Counter)
    for link in roster.parent_links:
        group = normalize_relationship(link.relationship, grandparent_flag=bool(link.grandparent))
        spellings[group][clean_display(link.relationship) or "blank"] += 1
    return CriteriaOptions(
        schools=tuple(
            Choice(code, code, n, names.get(code, ""))
            for code, n in sorted(schools.items())
            if code
        ),
        statuses=tuple(
            Choice(status, status, n)
            for status, n in sorted(statuses.items(), key=lambda kv: (-kv[1], kv[0]))
            if status
        ),
        grades=tuple(
            Choice(grade, grade, n)
            for grade, n in sorted(grades.items(), key=lambda kv: grade_order(kv[0]))
            if grade
        ),
        relationships=tuple(
            Choice(group, GROUP_LABELS[group], sum(spellings[group].values()),
                   ", ".join(s for s, _ in spellings[group].most_common(3)))
            for group in RELATIONSHIP_GROUPS
            if group in spellings
        ),
    )


def _prompt(choice: Choice, width: int = 40) -> Text:
    t = safe_text(choice.label, 14)
    t.append(f" {choice.count:,}", style="dim")
    if choice.detail:
        t.append(" ")
        t.append_text(safe_text(choice.detail, width, style="dim"))
    return t


class CriteriaScreen(WizardScreen[None]):
    TITLE_TEXT = "Criteria"
    STEP = "Criteria"
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
    EXPLAIN = (
        "Choose which students count: schools, enrollment status, grade levels, as this school "
        "names them in FACTS. For parents, also which relationships count. The count at the "
        "bottom updates as you tick."
    )

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

    @work(thread=True, exclusive=True, exit_on_error=False)
    def load(self) -> None:
        roster = self.flow.roster
        assert roster is not None
        setup = service.require_setup(self.services.store, self.flow.site)
        options = criteria_options(roster)
        self.app.call_from_thread(self._loaded, setup, options)

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

    @work(thread=True, exclusive=True, group="criteria-count", exit_on_error=False)
    def _count(self, draft: SetupDoc) -> None:
        roster = self.flow.roster
        assert roster is not None
        sel = select(roster, draft)
        t = Text(end="")
        t.append(f"{plural(sel.matched_students, 'student')} match", style="bold")
        if draft.kind == "parents":
            t.append(f" · {plural(len(sel.candidates), 'parent')} before the review")
        else:
            t.append(f" · {plural(len(sel.candidates), 'student')} to roster")
        t.append(f"  (FACTS lists {sel.enrolled_students:,} enrolled)", style="dim")
        self.app.call_from_thread(self.query_one("#criteria-count", Static).update, t)

    def action_next(self) -> None:
        if self.setup is None:
            return
        draft = self._draft()
        if not draft.criteria.statuses:
            self.notify("Tick at least one status.", severity="warning")
            return
        self._save(draft)

    @work(thread=True, exclusive=True, exit_on_error=False)
    def _save(self, draft: SetupDoc) -> None:
        try:
            service.save_setup(
                self.services.store,
                self.flow.site,
                schools=list(draft.criteria.schools),
                statuses=list(draft.criteria.statuses),
                grades=list(draft.criteria.grades),
                relationships=(list(draft.parents.relationships)
                               if draft.parents.relationships is not None
                               else list(RELATIONSHIP_GROUPS)) if draft.kind == "parents" else None,
            )
        except SiteError as err:
            self.app.call_from_thread(self.notify, error_text(err), severity="error",
                                      markup=False)
            return
        self.flow.forget_plan()
        self.app.call_from_thread(self._go)

    def _go(self) -> None:
        screen = navigation.screen_for(self.services, self.flow.site, "review")
        if screen is not None:
            self.app.push_screen(screen)
