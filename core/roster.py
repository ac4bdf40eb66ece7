"""The Roster: one consistent snapshot of what factsync needs from FACTS for a sync.

``fetch_roster`` (in ``core.facts.fetch``) fills it with the fewest requests; everything after it
(selection, conflicts, plan) reads only this value, so planning is pure and testable without HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from core.facts.models import (
    FamilyConfigVmOutV1_1,
    ParentStudentVM_V1_1,
    PersonFamilyVM,
    PersonVM,
    SchoolConfigVmOut,
    SchoolYearModel,
    StudentModelV1_3,
)


@dataclass
class Roster:
    """FACTS records as fetched. ``people`` is keyed by personId; lists keep FACTS's order."""

    students: list[StudentModelV1_3] = field(default_factory=list)
    people: dict[int, PersonVM] = field(default_factory=dict)
    parent_links: list[ParentStudentVM_V1_1] = field(default_factory=list)
    person_families: list[PersonFamilyVM] = field(default_factory=list)
    families: dict[int, FamilyConfigVmOutV1_1] = field(default_factory=dict)
    school_years: list[SchoolYearModel] = field(default_factory=list)
    schools: list[SchoolConfigVmOut] = field(default_factory=list)
    announced_students: int | None = None
    """``rowCount`` FACTS announced for the student query: a shorter list is a failed fetch."""
    kind: str = ""
    """``students`` or ``parents``: which site kind the fetch was shaped for."""
    requests: int = 0
    """FACTS requests the fetch took (the progress screen and the bench report it)."""
    fetched_at: datetime | None = None
