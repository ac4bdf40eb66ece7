"""The parent subset grid: one row per family, one slot per parent (design.md §1 step 5).

Pure: Roster + setup -> rows. The wizard shows a window of them and toggles a slot with
``service.set_override``; filtering and sorting happen here, not in the widget.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from core.roster import Roster
from core.sync.selection import Candidate, select
from core.sync.setup import SetupDoc
from core.sync.text import clean_text


@dataclass(frozen=True)
class ParentSlot:
    person_id: int
    name: str
    relationship: str
    """Normalized group (mother, father, ...)."""
    relationship_text: str
    """As the school spells it."""
    listed_first: bool
    custody: bool
    email: str | None
    included: bool
    reason: str
    override: bool | None
    """The family's saved override for this parent (None: the preset decides)."""


@dataclass(frozen=True)
class FamilyRow:
    family_id: int
    family_name: str
    students: tuple[str, ...]
    parents: tuple[ParentSlot, ...]
    excluded: bool
    """The whole family is excluded by an override."""

    @property
    def importable(self) -> bool:
        return not self.excluded and any(p.included for p in self.parents)


@dataclass(frozen=True)
class GridCounters:
    families_importable: int
    families_excluded: int
    users_to_sync: int
    users_to_skip: int


def review_grid(roster: Roster, setup: SetupDoc, *, search: str = "") -> list[FamilyRow]:
    """Families of matching students with their parents, sorted by family name.

    ``search`` keeps families whose name, or a member's name or email, contains it.
    """
    sel = select(roster, setup)
    people: list[Candidate] = [*sel.candidates, *sel.excluded.values()]
    parents = [p for p in people if p.role == "parent" and p.student_ids]
    by_family: dict[int, list[Candidate]] = defaultdict(list)
    for p in parents:
        for fid in p.family_ids:
            by_family[fid].append(p)
    students_of: dict[int, list[str]] = defaultdict(list)
    matching = {sid for p in parents for sid in p.student_ids}
    for pf in roster.person_families:
        if pf.personId in matching and pf.familyId in by_family:
            person = roster.people.get(pf.personId)
            name = clean_text(f"{person.firstName or ''} {person.lastName or ''}") if person else ""
            students_of[pf.familyId].append(name or f"person {pf.personId}")
    overrides = {(o.family_id, o.person_id): o.include for o in setup.parents.overrides}
    rows: list[FamilyRow] = []
    needle = search.strip().casefold()
    for fid, members in by_family.items():
        fam = roster.families.get(fid)
        fname = clean_text(fam.familyName if fam else "") or f"family {fid}"
        members.sort(key=lambda c: (c.family_orders.get(fid, 99), c.person_id))
        slots = tuple(
            ParentSlot(
                person_id=c.person_id,
                name=c.name,
                relationship=c.relationship,
                relationship_text=c.relationship_text,
                listed_first=c.family_orders.get(fid) == 1,
                custody=c.custody,
                email=c.email,
                included=c.included,
                reason=c.reason,
                override=overrides.get((fid, c.person_id)),
            )
            for c in members
        )
        row = FamilyRow(
            family_id=fid,
            family_name=fname,
            students=tuple(sorted(students_of.get(fid, []))),
            parents=slots,
            excluded=overrides.get((fid, None)) is False,
        )
        if needle and not _hit(row, needle):
            continue
        rows.append(row)
    rows.sort(key=lambda r: (r.family_name.casefold(), r.family_id))
    return rows


def _hit(row: FamilyRow, needle: str) -> bool:
    texts = [row.family_name, *row.students]
    for p in row.parents:
        texts += [p.name, p.email or ""]
    return any(needle in t.casefold() for t in texts)


def grid_counters(rows: list[FamilyRow]) -> GridCounters:
    included = {p.person_id for r in rows for p in r.parents if p.included}
    everyone = {p.person_id for r in rows for p in r.parents}
    return GridCounters(
        families_importable=sum(1 for r in rows if r.importable),
        families_excluded=sum(1 for r in rows if not r.importable),
        users_to_sync=len(included),
        users_to_skip=len(everyone - included),
    )
