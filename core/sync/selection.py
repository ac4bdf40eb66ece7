"""Roster + setup -> the people to roster (candidates), and why everyone else is left out.

A student matches when one of their student rows passes the criteria (school, enrollment status,
grade). A parent matches when at least one of their students matches and the subset rules keep
them. Every person considered but left out carries the reason, which becomes the archive reason of
an account that no longer matches.

Each candidate is built once, its reason decided before it is made: a district's 50,000 families
are ~90,000 people, and the plan waits for them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from core.facts.records import ParentLink, Person, Student
from core.roster import Roster
from core.sync.relationships import normalize_relationship
from core.sync.setup import RELATIONSHIP_GROUPS, Criteria, SetupDoc, email_key
from core.sync.text import clean_email, clean_text

Role = str  # "student" | "parent"

_NO_ORDERS: Mapping[int, int] = {}


@dataclass(frozen=True, slots=True)
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
    email_key: str | None = None
    """``email``'s comparison form (``setup.email_key``), computed once when the person is made."""

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or f"person {self.person_id}"

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

    def __repr__(self) -> str:
        """Its sizes, not its people (see ``Roster.__repr__``)."""
        return (f"Selection({self.kind}: {len(self.people)} people considered, "
                f"{len(self.candidates)} candidates, {self.matched_students} students match)")


def _fold(value: str | None) -> str:
    return (value or "").strip().casefold()


def _listed(values: tuple[str, ...]) -> str:
    """``Enrolled``, ``Enrolled or Graduate``, ``K, 01 or 02``: criteria read out in words."""
    words = [clean_text(v, 30) for v in values]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _student_judge(criteria: Criteria) -> Callable[[Student], str]:
    """Why one student row fails the criteria ('' when it matches), asked once per distinct
    (status, school, grade): a school has a few dozen of them, not one per student."""
    statuses = {_fold(s) for s in criteria.statuses}
    schools = {_fold(s) for s in criteria.schools}
    grades = {_fold(g) for g in criteria.grades}
    memo: dict[tuple[str, str | None, str], str] = {}

    def reason_of(status: str, school_code: str | None, grade: str) -> str:
        if statuses and _fold(status) not in statuses:
            return (f"enrollment status is {clean_text(status) or 'blank'}; this site rosters "
                    f"{_listed(criteria.statuses)} students")
        if schools and _fold(school_code) not in schools:
            return (f"school {clean_text(school_code) or 'blank'} is not among the schools this "
                    f"site rosters ({_listed(criteria.schools)})")
        if grades and _fold(grade) not in grades:
            return (f"grade {clean_text(grade) or 'blank'} is not among the grades this site "
                    f"rosters ({_listed(criteria.grades)})")
        return ""

    def judge(row: Student) -> str:
        school = row.school
        status = (school.status if school else None) or ""
        grade = (school.gradeLevel if school else None) or ""
        key = (status, row.schoolCode, grade)
        found = memo.get(key)
        if found is None:
            found = memo[key] = reason_of(*key)
        return found

    return judge


@dataclass(frozen=True, slots=True)
class SubsetRules:
    """A setup's parent subset rules with its per-family overrides indexed once (a school may
    have thousands): what ``reason`` asks per parent is a few set and dict look-ups."""

    preset: str
    allowed: frozenset[str]
    families_out: frozenset[int]
    by_person: Mapping[int, tuple[tuple[int, bool], ...]]
    """person -> (family, include), latest last."""

    @classmethod
    def of(cls, setup: SetupDoc) -> SubsetRules:
        rules = setup.parents
        by_person: dict[int, list[tuple[int, bool]]] = defaultdict(list)
        out: set[int] = set()
        for o in rules.overrides:
            if o.person_id is None:
                if not o.include:
                    out.add(o.family_id)
            else:
                by_person[o.person_id].append((o.family_id, o.include))
        allowed = rules.relationships if rules.relationships is not None else RELATIONSHIP_GROUPS
        return cls(rules.preset, frozenset(allowed), frozenset(out),
                   {p: tuple(v) for p, v in by_person.items()})

    def excluded_family(self, family_ids: tuple[int, ...]) -> int | None:
        """The first of ``family_ids`` the admin excluded as a whole, or None."""
        out = self.families_out
        return next((fid for fid in family_ids if fid in out), None) if out else None

    def reason(
        self,
        person_id: int,
        family_ids: tuple[int, ...],
        relationship: str,
        relationship_text: str,
        listed_first: bool,
        custody: bool,
    ) -> str:
        """Why the subset rules leave a parent out ('' when kept). Overrides win over presets."""
        fid = self.excluded_family(family_ids)
        if fid is not None:
            return f"their family {fid} is excluded from this site"
        for family_id, include in reversed(self.by_person.get(person_id, ())):
            if family_id in family_ids:
                return "" if include else f"left out for family {family_id} by an admin's choice"
        rel = relationship_text or "blank"
        if relationship not in self.allowed:
            return f"relationship {rel} is not among the relationships this site rosters"
        preset = self.preset
        if preset == "mothers-fathers" and relationship not in ("mother", "father"):
            return f"this site rosters mothers and fathers only, and the relationship is {rel}"
        if preset == "listed-first" and not listed_first:
            return "this site rosters the parent listed first only, and this parent is not"
        if preset == "custodial" and not custody:
            return "this site rosters custodial parents only, and FACTS shows no custody"
        return ""

    def reason_for(self, c: Candidate) -> str:
        """``reason`` for a parent already made (the review re-decides them on each key)."""
        return self.reason(c.person_id, c.family_ids, c.relationship, c.relationship_text,
                           c.listed_first, c.custody)


def _listed_first(orders: Mapping[int, int], family_ids: tuple[int, ...]) -> bool:
    """Listed first (familyOrder 1) in one of ``family_ids``."""
    return any(orders.get(f) == 1 for f in family_ids)


class _Builder:
    """Makes candidates from one roster: PersonFamily rows indexed both ways (with the setup's
    family grouping), family keys as shared strings, and each person's text cleaned once."""

    def __init__(self, roster: Roster, setup: SetupDoc) -> None:
        orders: dict[int, dict[int, int]] = defaultdict(dict)
        for pf in roster.person_families:
            order = pf.familyOrder if pf.familyOrder is not None else 99
            mine = orders[pf.personId]
            prev = mine.get(pf.familyId)
            mine[pf.familyId] = order if prev is None or order < prev else prev
        self.orders: dict[int, dict[int, int]] = dict(orders)
        self.people = roster.people
        self.heads = setup.family_key_map()
        self._keys: dict[int, str] = {}

    def _family_key(self, fid: int) -> str:
        key = self._keys.get(fid)
        if key is None:
            key = self._keys[fid] = str(self.heads.get(fid, fid))
        return key

    def make(
        self,
        person_id: int,
        role: Role,
        family_ids: tuple[int, ...],
        orders: Mapping[int, int],
        reason: str,
        grade: str | None = None,
        relationship: str = "",
        relationship_text: str = "",
        custody: bool = False,
        student_ids: tuple[int, ...] = (),
    ) -> Candidate:
        person = self.people.get(person_id) or Person(personId=person_id)
        if not family_ids:
            key, multi = None, False
        elif len(family_ids) == 1:
            key, multi = self._family_key(family_ids[0]), False
        else:
            best = min(family_ids, key=lambda f: (orders.get(f, 99), f))
            key = self._family_key(best)
            multi = len({self.heads.get(f, f) for f in family_ids}) > 1
        if len(orders) != len(family_ids) or any(f not in orders for f in family_ids):
            orders = {f: orders[f] for f in family_ids if f in orders}
        email = clean_email(person.email)
        return Candidate(
            person_id,
            role,
            clean_text(person.firstName),
            clean_text(person.lastName),
            email,
            clean_email(person.email2),
            family_ids,
            key,
            multi,
            grade,
            _listed_first(orders, family_ids),
            relationship,
            relationship_text,
            custody,
            student_ids,
            orders,
            not reason,
            reason,
            email_key(email),
        )


def select(roster: Roster, setup: SetupDoc) -> Selection:
    """The candidates of a sync, and the reason for each person considered but left out."""
    judge = _student_judge(setup.criteria)
    matching: dict[int, Student] = {}
    failing: dict[int, str] = {}
    seen: set[int] = set()
    enrolled: set[int] = set()
    for row in roster.students:
        sid = row.studentId
        seen.add(sid)
        if row.school is not None and _fold(row.school.status) == "enrolled":
            enrolled.add(sid)
        reason = judge(row)
        if not reason:
            matching.setdefault(sid, row)
            failing.pop(sid, None)
        elif sid not in matching:
            failing.setdefault(sid, reason)
    build = _Builder(roster, setup)
    rules = SubsetRules.of(setup)
    if setup.kind == "students":
        people = _students(build, rules, matching, failing)
    else:
        people = _parents(roster, build, rules, matching, failing)
    return Selection(
        kind=setup.kind,
        people=tuple(people),
        candidates=tuple(p for p in people if p.included),
        excluded={p.person_id: p for p in people if not p.included},
        matched_students=len(matching),
        roster_students=len(seen),
        announced_students=roster.announced_students,
        enrolled_students=len(enrolled),
    )


def _students(
    build: _Builder, rules: SubsetRules, matching: dict[int, Student], failing: dict[int, str]
) -> list[Candidate]:
    out: list[Candidate] = []
    for sid, row in matching.items():
        orders = build.orders.get(sid, _NO_ORDERS)
        family_ids = tuple(sorted(orders))
        grade = clean_text(row.school.gradeLevel if row.school else None, 20) or None
        fid = rules.excluded_family(family_ids)
        reason = f"their family {fid} is excluded from this site" if fid is not None else ""
        out.append(build.make(sid, "student", family_ids, orders, reason, grade=grade,
                              student_ids=(sid,)))
    for sid, reason in failing.items():
        orders = build.orders.get(sid, _NO_ORDERS)
        out.append(build.make(sid, "student", tuple(sorted(orders)), orders, reason))
    return out


_REL_ORDER = {g: i for i, g in enumerate(RELATIONSHIP_GROUPS)}


def _parents(
    roster: Roster,
    build: _Builder,
    rules: SubsetRules,
    matching: dict[int, Student],
    failing: dict[int, str],
) -> list[Candidate]:
    links: dict[int, list[ParentLink]] = defaultdict(list)
    for link in roster.parent_links:
        links[link.parentID].append(link)
    student_families = {fid for sid in matching for fid in build.orders.get(sid, _NO_ORDERS)}
    relationships: dict[tuple[str | None, bool], tuple[int, str, str]] = {}
    out: list[Candidate] = []
    for parent_id, plinks in links.items():
        own = build.orders.get(parent_id, _NO_ORDERS)
        live = [ln for ln in plinks if ln.studentID in matching]
        if not live:
            why = "; ".join(
                sorted({failing[ln.studentID] for ln in plinks if ln.studentID in failing})
            )
            reason = "none of their students matches this site's criteria any more" + (
                f" (their student's {why})" if why else " (FACTS no longer lists their students)"
            )
            out.append(build.make(parent_id, "parent", tuple(sorted(own)), own, reason))
            continue
        family_ids = tuple(sorted(f for f in own if f in student_families)) or tuple(sorted(own))
        best: tuple[int, str, str] | None = None
        custody = False
        for ln in live:
            key = (ln.relationship, bool(ln.grandparent))
            rel = relationships.get(key)
            if rel is None:
                found = normalize_relationship(ln.relationship, grandparent_flag=key[1])
                rel = relationships[key] = (_REL_ORDER[found], found, clean_text(ln.relationship, 50))
            if best is None or rel < best:
                best = rel
            custody = custody or bool(ln.custody)
        assert best is not None
        _, group, text = best
        listed_first = _listed_first(own, family_ids)
        reason = rules.reason(parent_id, family_ids, group, text, listed_first, custody)
        out.append(
            build.make(
                parent_id,
                "parent",
                family_ids,
                own,
                reason,
                relationship=group,
                relationship_text=text,
                custody=custody,
                student_ids=tuple(sorted({ln.studentID for ln in live})),
            )
        )
    return out
