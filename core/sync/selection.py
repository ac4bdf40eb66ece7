"""Roster + setup -> the people to roster (candidates), and why everyone else is left out.

A student matches when one of their student rows passes the criteria (school, enrollment status,
grade). A parent matches when at least one of their students matches and the subset rules keep
them. Every person considered but left out carries the reason, which becomes the archive reason of
an account that no longer matches.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from core.facts.records import ParentLink, Person, Student
from core.roster import Roster
from core.sync.relationships import normalize_relationship
from core.sync.setup import RELATIONSHIP_GROUPS, Criteria, SetupDoc, email_key
from core.sync.text import clean_email, clean_text

Role = str  # "student" | "parent"


@dataclass(frozen=True)
class Candidate:
    """One FACTS person as the sync sees them (included or not)."""

    person_id: int
    role: Role
    first_name: str
    last_name: str
    email: str | None
    email2: str | None
    family_ids: tuple[int, ...]
    """FACTS families that make this person eligible (for parents: families of matching students)."""
    family_key: str | None
    """The family the account carries: a family id, or a group's smallest id; see ``multi_family``."""
    multi_family: bool
    """In several families that are not grouped: the family key needs a decision."""
    grade: str | None = None
    listed_first: bool = False
    relationship: str = ""
    relationship_text: str = ""
    custody: bool = False
    student_ids: tuple[int, ...] = ()
    family_orders: Mapping[int, int] = field(default_factory=dict)
    included: bool = True
    reason: str = ""
    """Why a person is left out (empty when included)."""

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or f"person {self.person_id}"

    @cached_property
    def email_key(self) -> str | None:
        return email_key(self.email)

    def label(self) -> str:
        """How errors and reviews name a person: 'person 1202095 (Jane Doe)'."""
        return f"person {self.person_id} ({self.name})"


@dataclass(frozen=True)
class Selection:
    kind: str
    candidates: tuple[Candidate, ...]
    excluded: Mapping[int, Candidate]
    matched_students: int
    """Students matching the criteria: compared with the last sync to catch a failed fetch."""
    roster_students: int
    announced_students: int | None
    enrolled_students: int = 0
    """Students FACTS lists as Enrolled, whatever the criteria: the failed-fetch yardstick."""
    people: tuple[Candidate, ...] = ()
    """Everyone considered, included or not, in the order ``select`` met them."""


def _fold(value: str | None) -> str:
    return (value or "").strip().casefold()


def _student_reason(row: Student, criteria: Criteria) -> str:
    """Why one student row fails the criteria ('' when it matches)."""
    school = row.school
    status = (school.status if school else None) or ""
    grade = (school.gradeLevel if school else None) or ""
    if {_fold(s) for s in criteria.statuses} and _fold(status) not in {
        _fold(s) for s in criteria.statuses
    }:
        return (f"enrollment status is {clean_text(status) or 'blank'}; this site rosters "
                f"{_listed(criteria.statuses)} students")
    if criteria.schools and _fold(row.schoolCode) not in {_fold(s) for s in criteria.schools}:
        return (f"school {clean_text(row.schoolCode) or 'blank'} is not among the schools this "
                f"site rosters ({_listed(criteria.schools)})")
    if criteria.grades and _fold(grade) not in {_fold(g) for g in criteria.grades}:
        return (f"grade {clean_text(grade) or 'blank'} is not among the grades this site "
                f"rosters ({_listed(criteria.grades)})")
    return ""


def _listed(values: tuple[str, ...]) -> str:
    """``Enrolled``, ``Enrolled or Graduate``, ``K, 01 or 02``: criteria read out in words."""
    words = [clean_text(v, 30) for v in values]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


@dataclass
class _Families:
    """PersonFamily rows indexed both ways, with the grouping applied."""

    orders: dict[int, dict[int, int]]  # person -> family -> familyOrder
    members: dict[int, set[int]]  # family -> persons
    heads: dict[int, int]

    def key_for(self, family_ids: tuple[int, ...], person_id: int) -> tuple[str | None, bool]:
        if not family_ids:
            return None, False
        heads = {self.heads.get(f, f) for f in family_ids}
        orders = self.orders.get(person_id, {})
        best = min(family_ids, key=lambda f: (orders.get(f, 99), f))
        return str(self.heads.get(best, best)), len(heads) > 1


def _index_families(roster: Roster, setup: SetupDoc) -> _Families:
    orders: dict[int, dict[int, int]] = defaultdict(dict)
    members: dict[int, set[int]] = defaultdict(set)
    for pf in roster.person_families:
        order = pf.familyOrder if pf.familyOrder is not None else 99
        prev = orders[pf.personId].get(pf.familyId)
        orders[pf.personId][pf.familyId] = order if prev is None else min(prev, order)
        members[pf.familyId].add(pf.personId)
    return _Families(orders=dict(orders), members=dict(members), heads=setup.family_key_map())


def _person(roster: Roster, person_id: int, row: Student | None = None) -> Person:
    return roster.people.get(person_id) or Person(personId=person_id)


def _family_excluded(setup: SetupDoc, family_ids: tuple[int, ...]) -> int | None:
    out = _overrides(setup).families_out
    return next((fid for fid in family_ids if fid in out), None)


def select(roster: Roster, setup: SetupDoc) -> Selection:
    """The candidates of a sync, and the reason for each person considered but left out."""
    fams = _index_families(roster, setup)
    matching: dict[int, Student] = {}
    failing: dict[int, str] = {}
    for row in roster.students:
        reason = _student_reason(row, setup.criteria)
        if not reason:
            matching.setdefault(row.studentId, row)
            failing.pop(row.studentId, None)
        elif row.studentId not in matching:
            failing.setdefault(row.studentId, reason)
    if setup.kind == "students":
        people = _students(roster, setup, fams, matching, failing)
    else:
        people = _parents(roster, setup, fams, matching, failing)
    return Selection(
        kind=setup.kind,
        people=tuple(people),
        candidates=tuple(p for p in people if p.included),
        excluded={p.person_id: p for p in people if not p.included},
        matched_students=len(matching),
        roster_students=len({s.studentId for s in roster.students}),
        announced_students=roster.announced_students,
        enrolled_students=len(
            {s.studentId for s in roster.students if s.school and _fold(s.school.status) == "enrolled"}
        ),
    )


def _base(
    roster: Roster,
    fams: _Families,
    person_id: int,
    role: Role,
    family_ids: tuple[int, ...],
    row: Student | None = None,
    **extra: Any,
) -> Candidate:
    person = _person(roster, person_id, row)
    key, multi = fams.key_for(family_ids, person_id)
    orders = fams.orders.get(person_id, {})
    return Candidate(
        person_id=person_id,
        role=role,
        first_name=clean_text(person.firstName),
        last_name=clean_text(person.lastName),
        email=clean_email(person.email),
        email2=clean_email(person.email2),
        family_ids=family_ids,
        family_key=key,
        multi_family=multi,
        listed_first=any(orders.get(f) == 1 for f in family_ids),
        family_orders={f: orders[f] for f in family_ids if f in orders},
        **extra,
    )


def _students(
    roster: Roster,
    setup: SetupDoc,
    fams: _Families,
    matching: dict[int, Student],
    failing: dict[int, str],
) -> list[Candidate]:
    out: list[Candidate] = []
    for sid, row in matching.items():
        family_ids = tuple(sorted(fams.orders.get(sid, {})))
        grade = clean_text(row.school.gradeLevel if row.school else None, 20) or None
        fid = _family_excluded(setup, family_ids)
        reason = f"their family {fid} is excluded from this site" if fid is not None else ""
        out.append(
            _base(roster, fams, sid, "student", family_ids, row, grade=grade, student_ids=(sid,),
                  included=not reason, reason=reason)
        )
    for sid, reason in failing.items():
        family_ids = tuple(sorted(fams.orders.get(sid, {})))
        out.append(_base(roster, fams, sid, "student", family_ids, included=False, reason=reason))
    return out


def _replace(cand: Candidate, **changes: object) -> Candidate:
    from dataclasses import replace

    return replace(cand, **changes)  # type: ignore[arg-type]


_REL_ORDER = {g: i for i, g in enumerate(RELATIONSHIP_GROUPS)}


def _parents(
    roster: Roster,
    setup: SetupDoc,
    fams: _Families,
    matching: dict[int, Student],
    failing: dict[int, str],
) -> list[Candidate]:
    links: dict[int, list[ParentLink]] = defaultdict(list)
    for link in roster.parent_links:
        links[link.parentID].append(link)
    student_families = {fid for sid in matching for fid in fams.orders.get(sid, {})}
    rules = setup.parents
    allowed: set[str] = (
        set(rules.relationships) if rules.relationships is not None else set(RELATIONSHIP_GROUPS)
    )
    out: list[Candidate] = []
    for parent_id, plinks in links.items():
        live = [ln for ln in plinks if ln.studentID in matching]
        own = fams.orders.get(parent_id, {})
        if not live:
            family_ids = tuple(sorted(own))
            why = "; ".join(
                sorted({failing[ln.studentID] for ln in plinks if ln.studentID in failing})
            )
            reason = "none of their students matches this site's criteria any more" + (
                f" (their student's {why})" if why else " (FACTS no longer lists their students)"
            )
            out.append(
                _base(roster, fams, parent_id, "parent", family_ids, included=False, reason=reason)
            )
            continue
        family_ids = tuple(sorted(f for f in own if f in student_families)) or tuple(sorted(own))
        groups = sorted(
            (
                normalize_relationship(ln.relationship, grandparent_flag=bool(ln.grandparent)),
                clean_text(ln.relationship, 50),
            )
            for ln in live
        )
        group, text = min(groups, key=lambda g: _REL_ORDER[g[0]])
        cand = _base(
            roster,
            fams,
            parent_id,
            "parent",
            family_ids,
            relationship=group,
            relationship_text=text,
            custody=any(bool(ln.custody) for ln in live),
            student_ids=tuple(sorted({ln.studentID for ln in live})),
        )
        reason = parent_reason(cand, setup, allowed)
        out.append(_replace(cand, included=False, reason=reason) if reason else cand)
    return out


@dataclass(frozen=True)
class _Overrides:
    """A setup's per-family overrides indexed once (a school may have thousands)."""

    families_out: frozenset[int]
    by_person: Mapping[int, tuple[tuple[int, bool], ...]]
    """person -> (family, include), latest last."""


_OVERRIDES: list[tuple[SetupDoc, _Overrides]] = []


def _overrides(setup: SetupDoc) -> _Overrides:
    """The index of ``setup``'s overrides (kept for the last setup asked about)."""
    if _OVERRIDES and _OVERRIDES[0][0] is setup:
        return _OVERRIDES[0][1]
    by_person: dict[int, list[tuple[int, bool]]] = defaultdict(list)
    out: set[int] = set()
    for o in setup.parents.overrides:
        if o.person_id is None:
            if not o.include:
                out.add(o.family_id)
        else:
            by_person[o.person_id].append((o.family_id, o.include))
    index = _Overrides(frozenset(out), {p: tuple(v) for p, v in by_person.items()})
    _OVERRIDES[:] = [(setup, index)]
    return index


def parent_reason(cand: Candidate, setup: SetupDoc, allowed: set[str]) -> str:
    """Why the subset rules leave a parent out ('' when kept). Overrides win over presets."""
    index = _overrides(setup)
    for fid in cand.family_ids:
        if fid in index.families_out:
            return f"their family {fid} is excluded from this site"
    for family_id, include in reversed(index.by_person.get(cand.person_id, ())):
        if family_id in cand.family_ids:
            return "" if include else f"left out for family {family_id} by an admin's choice"
    preset = setup.parents.preset
    rel = cand.relationship_text or "blank"
    if cand.relationship not in allowed:
        return f"relationship {rel} is not among the relationships this site rosters"
    if preset == "mothers-fathers" and cand.relationship not in ("mother", "father"):
        return f"this site rosters mothers and fathers only, and the relationship is {rel}"
    if preset == "listed-first" and not cand.listed_first:
        return "this site rosters the parent listed first only, and this parent is not"
    if preset == "custodial" and not cand.custody:
        return "this site rosters custodial parents only, and FACTS shows no custody"
    return ""
