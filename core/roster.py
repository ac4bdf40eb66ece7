"""The Roster: one consistent snapshot of what factsync needs from FACTS for a sync.

``fetch_roster`` (in ``core.facts.fetch``) fills it with the fewest requests; everything after it
(selection, conflicts, plan) reads only this value, so planning is pure and testable without HTTP.
Records FACTS sent but factsync could not read are listed in ``unreadable``: they are left out,
the accounts they concern are held as they are, and too many of them stop the sync.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from core.facts.records import (
    Family,
    Membership,
    ParentLink,
    Person,
    School,
    SchoolYear,
    Student,
    Unreadable,
)

UNREADABLE_SHARE = 0.05
"""More unreadable rows than this share of any one table stops the sync: FACTS changed, not the school."""


@dataclass
class Roster:
    """FACTS records as fetched. ``people`` is keyed by personId; lists keep FACTS's order."""

    students: list[Student] = field(default_factory=list)
    people: dict[int, Person] = field(default_factory=dict)
    parent_links: list[ParentLink] = field(default_factory=list)
    person_families: list[Membership] = field(default_factory=list)
    families: dict[int, Family] = field(default_factory=dict)
    school_years: list[SchoolYear] = field(default_factory=list)
    schools: list[School] = field(default_factory=list)
    announced_students: int | None = None
    """``rowCount`` FACTS announced for the student query: a shorter list is a failed fetch."""
    kind: str = ""
    """``students`` or ``parents``: which site kind the fetch was shaped for."""
    requests: int = 0
    """FACTS requests the fetch took (the progress screen and the bench report it)."""
    fetched_at: datetime | None = None
    unreadable: list[Unreadable] = field(default_factory=list)
    """Records left out because they cannot be read, each naming resource, key, field, problem."""
    rows_read: dict[str, int] = field(default_factory=dict)
    """Rows of each resource that were validated: the ones needed, and those whose key could not
    be read (they might be needed)."""
    rows_received: dict[str, int] = field(default_factory=dict)
    """Rows of each resource FACTS sent, needed or not (a whole table's history included)."""

    def __repr__(self) -> str:
        """Its sizes, not its records. Python formats the repr of values it only names: a
        coroutine's result when ``asyncio.run`` checks its SIGINT handler (a partial holding
        the main task), a worker's, a traceback's; rendered whole, a 20,000-family roster is
        hundreds of MB and seconds."""
        return (f"Roster({self.kind or 'any'}: {len(self.students)} students, "
                f"{len(self.people)} people, {len(self.parent_links)} parent links, "
                f"{len(self.person_families)} memberships, {len(self.families)} families, "
                f"{len(self.unreadable)} unreadable, {self.requests} requests)")

    @cached_property
    def held_person_ids(self) -> frozenset[int]:
        """People whose FACTS person, student, link or family record was unreadable this run:
        their accounts are neither archived nor changed. A record whose own key is unreadable may
        concern anyone, so people whose memberships now point at nobody are held too."""
        held = {pid for u in self.unreadable for pid in u.person_ids}
        families = {fid for u in self.unreadable for fid in u.family_ids}
        if families:
            held |= {m.personId for m in self.person_families if m.familyId in families}
        if self.key_unreadable:
            known = set(self.people) | {s.studentId for s in self.students}
            held |= {m.personId for m in self.person_families if m.personId not in known}
        return frozenset(held)

    @property
    def key_unreadable(self) -> bool:
        """Some record's own key could not be read: who it was is unknown."""
        return any(u.key_unreadable for u in self.unreadable)

    def unreadable_stop(self) -> str | None:
        """Why nothing may be applied, or None: in one table, more than 5% of the rows needed are
        unreadable, or more than 5% of all its rows have a key that cannot be read. (A whole
        table read to find the rows needed holds history too: its unreadable keys are weighed
        against the whole table, the rows needed against the rows needed.)"""
        counts = Counter(u.resource for u in self.unreadable)
        keys = Counter(u.resource for u in self.unreadable if u.key_unreadable)
        for resource, count in counts.most_common():
            bad_keys = keys[resource]
            bad_fields = count - bad_keys
            needed = max(self.rows_read.get(resource, 0) - bad_keys, bad_fields)
            received = max(self.rows_received.get(resource, 0), bad_keys)
            if bad_fields > needed * UNREADABLE_SHARE:
                what = f"{bad_fields} of {needed} {resource} records from FACTS cannot be read"
            elif bad_keys > received * UNREADABLE_SHARE:
                what = f"{bad_keys} of {received} {resource} records from FACTS have a key that cannot be read"
            else:
                continue
            examples = [str(u) for u in self.unreadable if u.resource == resource][:2]
            return (
                f"{what} (more than {UNREADABLE_SHARE:.0%}), e.g. " + "; ".join(examples)
                + ". Nothing was changed: this looks like a change in FACTS, not in the school. "
                "Ask FACTS support, and list them all with "
                "'factsync sync SITE --dry-run --report FILE'."
            )
        return None
