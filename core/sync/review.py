"""The review model: families, parent slots, totals and search, built once per roster read.

It is made from the very ``Selection`` the planner uses (``select`` runs once per read and
criteria), keeps one ``Candidate`` per person (no copies), and re-decides only the people a key
press touches with the engine's own rule (``selection.SubsetRules``). The subset grid shows it,
the counters read it, its search filters it, and :meth:`ReviewModel.selection` hands the planner
the selection as the admin has shaped it, so nothing is selected a second time on the way to a
sync. Nothing here touches the store: the caller saves each :class:`Change` it is handed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from core.roster import Roster
from core.sync.selection import Candidate, Selection, SubsetRules, select
from core.sync.setup import SetupDoc
from core.sync.text import clean_text

PRESET_LABELS: dict[str, str] = {
    "all": "All parents",
    "mothers-fathers": "Mothers & fathers",
    "listed-first": "Listed first",
    "custodial": "Custodial",
}


@dataclass(frozen=True)
class Slot:
    """One parent of one family, as the review shows it (all text untrusted)."""

    person_id: int
    name: str
    relationship: str
    """As the school spells it."""
    listed_first: bool
    """Listed first (familyOrder 1) in this family."""
    custody: bool
    email: str | None


@dataclass(frozen=True)
class SlotState:
    included: bool
    overridden: bool
    """An admin's per-family choice decides, not the preset."""
    reason: str
    """Why the parent is left out ('' when included)."""


@dataclass(frozen=True)
class Totals:
    """The counters of every review screen (design.md §4b)."""

    families_importable: int
    families_excluded: int
    users_to_sync: int
    users_to_skip: int


@dataclass(frozen=True)
class Change:
    """What one key press changed, for the caller to save (``review.save_change``)."""

    what: Literal["slot", "family", "preset"]
    family_id: int | None = None
    person_id: int | None = None
    include: bool | None = None
    """The override to save (None: clear it, the preset decides)."""
    preset: str | None = None


class ReviewModel:
    """The families of matching students with their parents, sorted by family name."""

    def __init__(self, roster: Roster, setup: SetupDoc, selection: Selection | None = None) -> None:
        sel = selection if selection is not None else select(roster, setup)
        self._selection = sel
        self._setup = setup
        self._rules = SubsetRules.of(setup)
        self.kind = sel.kind
        people = sel.people
        self._cand: dict[int, Candidate] = {}
        by_family: dict[int, list[Candidate]] = defaultdict(list)
        if sel.kind == "parents":
            for c in people:
                if c.role == "parent" and c.student_ids:
                    self._cand[c.person_id] = c
                    for fid in c.family_ids:
                        by_family[fid].append(c)
        matching = {sid for c in self._cand.values() for sid in c.student_ids}
        students_of: dict[int, list[str]] = defaultdict(list)
        for pf in roster.person_families:
            if pf.personId in matching and pf.familyId in by_family:
                person = roster.people.get(pf.personId)
                name = clean_text(f"{person.firstName or ''} {person.lastName or ''}") if person else ""
                students_of[pf.familyId].append(name or f"person {pf.personId}")
        rows: list[tuple[str, int, str, tuple[int, ...]]] = []
        for fid, members in by_family.items():
            fam = roster.families.get(fid)
            name = clean_text(fam.familyName if fam else "") or f"family {fid}"
            members.sort(key=lambda c: (c.family_orders.get(fid, 99), c.person_id))
            students = ", ".join(sorted(students_of.get(fid, ())))
            rows.append((name, fid, students, tuple(c.person_id for c in members)))
        rows.sort(key=lambda r: (r[0].casefold(), r[1]))
        self._names = [r[0] for r in rows]
        self._fids = [r[1] for r in rows]
        self._students = [r[2] for r in rows]
        self._members = [r[3] for r in rows]
        self._rows_of: dict[int, list[int]] = defaultdict(list)
        self._rows_of_family: dict[int, list[int]] = defaultdict(list)
        for i, fid in enumerate(self._fids):
            self._rows_of_family[fid].append(i)
            for pid in self._members[i]:
                self._rows_of[pid].append(i)
        # Without an override or an excluded family, the subset rule depends only on a parent's
        # kind (relationship, listed first, custody), and a family's fate only on the kinds of
        # its parents: a preset is decided once per kind and once per mix of kinds.
        kinds: dict[tuple[str, str, bool, bool], int] = {}
        self._kind_of = {
            pid: kinds.setdefault(
                (c.relationship, c.relationship_text, c.listed_first, c.custody), len(kinds))
            for pid, c in self._cand.items()
        }
        self._kinds = list(kinds)
        mixes: dict[frozenset[int], int] = {}
        self._mix_of_row = [
            mixes.setdefault(frozenset(self._kind_of[p] for p in m), len(mixes))
            for m in self._members
        ]
        self._mixes = list(mixes)
        self._max_slots = max((len(m) for m in self._members), default=1)
        self._haystacks: list[str] | None = None
        self._view: Sequence[int] = range(len(self._fids))
        self._reason: dict[int, str] = {}
        self._fam_ok: list[bool] = []
        self._included_count = 0
        self._importable_count = 0
        self._recompute_all()

    # --- deciding ------------------------------------------------------------------------------

    def _use(self, setup: SetupDoc) -> None:
        """The setup as the admin has shaped it now, and its subset rules indexed once."""
        self._setup = setup
        self._rules = SubsetRules.of(setup)

    def _special(self) -> set[int]:
        """The people an override or an excluded family decides (not their kind alone)."""
        special = set(self._rules.by_person)
        for fid in self._rules.families_out:
            for i in self._rows_of_family.get(fid, ()):
                special.update(self._members[i])
        return special

    def _recompute_all(self) -> None:
        """Everyone again (a preset): the engine's rule, asked once per kind of parent and
        once per person an override or an excluded family decides."""
        rules = self._rules
        special = self._special() & self._cand.keys()
        by_kind = [rules.reason(0, (), *kind) for kind in self._kinds]
        reason = {pid: by_kind[k] for pid, k in self._kind_of.items()}
        for pid in special:
            reason[pid] = rules.reason_for(self._cand[pid])
        self._reason = reason
        self._included_count = sum(1 for r in reason.values() if not r)
        mix_ok = [any(not by_kind[k] for k in mix) for mix in self._mixes]
        fam_ok = [mix_ok[m] for m in self._mix_of_row]
        for i in {i for pid in special for i in self._rows_of[pid]}:
            fam_ok[i] = self._row_ok(i)
        self._fam_ok = fam_ok
        self._importable_count = sum(fam_ok)

    def _row_ok(self, i: int) -> bool:
        if self._fids[i] in self._rules.families_out:
            return False
        return any(not self._reason[pid] for pid in self._members[i])

    def _recompute_people(self, people: set[int]) -> None:
        rules = self._rules
        rows: set[int] = set()
        for pid in people:
            before = not self._reason[pid]
            self._reason[pid] = rules.reason_for(self._cand[pid])
            self._included_count += int(not self._reason[pid]) - int(before)
            rows.update(self._rows_of[pid])
        for i in rows:
            ok = self._row_ok(i)
            self._importable_count += int(ok) - int(self._fam_ok[i])
            self._fam_ok[i] = ok

    # --- what the planner reads ------------------------------------------------------------------

    @property
    def setup(self) -> SetupDoc:
        """The setup as the admin has shaped it so far (what the caller has been saving)."""
        return self._setup

    def selection(self) -> Selection:
        """The planner's selection under the current setup, without selecting again."""
        sel = self._selection
        if sel.kind != "parents":
            return sel
        people: list[Candidate] = []
        for c in sel.people:
            reason = self._reason.get(c.person_id)
            if reason is not None and reason != c.reason:
                c = replace(c, included=not reason, reason=reason)
            people.append(c)
        return replace(
            sel,
            people=tuple(people),
            candidates=tuple(c for c in people if c.included),
            excluded={c.person_id: c for c in people if not c.included},
        )

    # --- what the grid reads -------------------------------------------------------------------

    @property
    def preset(self) -> str:
        return self._setup.parents.preset

    @property
    def max_slots(self) -> int:
        return self._max_slots

    def __len__(self) -> int:
        return len(self._view)

    def family(self, index: int) -> tuple[int, str, str]:
        """(family id, family name, students) of row ``index`` of the current view."""
        i = self._view[index]
        return (self._fids[i], self._names[i], self._students[i])

    def slots(self, index: int) -> list[Slot]:
        i = self._view[index]
        fid = self._fids[i]
        out = []
        for pid in self._members[i]:
            c = self._cand[pid]
            out.append(Slot(pid, c.name, c.relationship_text, c.family_orders.get(fid) == 1,
                            c.custody, c.email))
        return out

    def state(self, index: int, slot: int) -> SlotState:
        i = self._view[index]
        pid = self._members[i][slot]
        reason = self._reason[pid]
        families = self._cand[pid].family_ids
        overridden = any(f in families for f, _ in self._rules.by_person.get(pid, ()))
        return SlotState(included=not reason, overridden=overridden, reason=reason)

    def family_excluded(self, index: int) -> bool:
        return self._fids[self._view[index]] in self._rules.families_out

    def totals(self) -> Totals:
        everyone = len(self._cand)
        return Totals(
            families_importable=self._importable_count,
            families_excluded=len(self._fids) - self._importable_count,
            users_to_sync=self._included_count,
            users_to_skip=everyone - self._included_count,
        )

    # --- changes -------------------------------------------------------------------------------

    def toggle(self, index: int, slot: int) -> Change:
        """Include or exclude one parent; one choice per person (other families' are dropped)."""
        i = self._view[index]
        fid = self._fids[i]
        pid = self._members[i][slot]
        want = bool(self._reason[pid])  # excluded now -> include
        setup = self._setup
        for o in setup.parents.overrides:
            if o.person_id == pid and o.family_id != fid:
                setup = setup.with_override(o.family_id, pid, None)
        cleared = setup.with_override(fid, pid, None)
        by_preset = not SubsetRules.of(cleared).reason_for(self._cand[pid])
        include: bool | None = None if by_preset == want else want
        self._use(cleared if include is None else cleared.with_override(fid, pid, include))
        self._recompute_people({pid})
        return Change("slot", family_id=fid, person_id=pid, include=include)

    def toggle_family(self, index: int) -> Change:
        i = self._view[index]
        fid = self._fids[i]
        include: bool | None = None if fid in self._rules.families_out else False
        self._use(self._setup.with_override(fid, None, include))
        touched = {pid for r in self._rows_of_family.get(fid, ()) for pid in self._members[r]}
        self._recompute_people(touched)
        return Change("family", family_id=fid, include=include)

    def set_preset(self, preset: str) -> Change:
        parents = self._setup.parents.model_copy(update={"preset": preset})
        self._use(self._setup.model_copy(update={"parents": parents}))
        self._recompute_all()
        return Change("preset", preset=preset)

    # --- search --------------------------------------------------------------------------------

    def _haystack(self) -> list[str]:
        """Searchable text per row (family, students, parents' names and emails), on first use."""
        if self._haystacks is None:
            out = []
            for name, students, members in zip(self._names, self._students, self._members,
                                               strict=True):
                parts = [name, students]
                for pid in members:
                    c = self._cand[pid]
                    parts += [c.name, c.email or ""]
                out.append(" ".join(parts).casefold())
            self._haystacks = out
        return self._haystacks

    def set_filter(self, text: str) -> None:
        """Keep the families whose name, a student, or a parent's name or email contains it."""
        needle = clean_text(text).casefold()
        if not needle:
            self._view = range(len(self._fids))
        else:
            self._view = [i for i, h in enumerate(self._haystack()) if needle in h]
