"""What the Criteria step offers and counts: this school's own schools, statuses, grades and
relationships, read from the roster FACTS sent, each with how many students (or parent links)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from core.gc_pause import long_lived
from core.roster import Roster
from core.sync.relationships import normalize_relationship
from core.sync.selection import Selection, select
from core.sync.setup import RELATIONSHIP_GROUPS, SetupDoc
from core.sync.text import clean_text

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
    names = {(s.schoolCode or "").strip(): clean_text(s.schoolName) for s in roster.schools}
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
        spellings[group][clean_text(link.relationship) or "blank"] += 1
    return CriteriaOptions(
        schools=tuple(
            Choice(code, code, n, names.get(code, "")) for code, n in sorted(schools.items()) if code
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


def enrolled_count(roster: Roster) -> int:
    """Students FACTS lists as Enrolled, whatever the site's criteria."""
    return len({
        s.studentId for s in roster.students
        if s.school is not None and (s.school.status or "").strip().casefold() == "enrolled"
    })


@dataclass(frozen=True)
class CriteriaCount:
    """How many match a draft of the criteria; ``selection`` is kept for the review to reuse."""

    setup: SetupDoc
    selection: Selection

    @property
    def matched_students(self) -> int:
        return self.selection.matched_students

    @property
    def candidates(self) -> int:
        return len(self.selection.candidates)

    @property
    def enrolled_students(self) -> int:
        return self.selection.enrolled_students


@long_lived()
def count_criteria(roster: Roster, draft: SetupDoc) -> CriteriaCount:
    """The count of a draft; its selection is long-lived (the review takes it over)."""
    return CriteriaCount(draft, select(roster, draft))
