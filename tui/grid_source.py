"""The subset grid's data: the engine's review rows, re-decided in memory on every key.

``service.review_grid`` builds the rows once (seconds for 20,000 families). After that a preset
or a per-family toggle must answer in milliseconds, so this source keeps one ``Candidate`` per
parent and asks the engine's own rule (``core.sync.selection``'s parent rule) again for the
people a change touches: one source of truth for who is included, no second copy of the rules.
Nothing here touches the store; the screen saves each :class:`Change` it is handed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from core.sync.grid import FamilyRow
from core.sync.selection import Candidate, parent_reason
from core.sync.setup import RELATIONSHIP_GROUPS, SetupDoc
from tui.widgets.safe_text import clean_display
from tui.widgets.subset_grid import Change, GridSlot, SlotState, Totals


class FamilyRowsSource:
    """A :class:`~tui.widgets.subset_grid.SubsetSource` over ``review_grid`` rows."""

    def __init__(self, rows: Sequence[FamilyRow], setup: SetupDoc) -> None:
        self._rows = list(rows)
        self._setup = setup
        self._slots: list[tuple[GridSlot, ...]] = []
        families_of: dict[int, set[int]] = defaultdict(set)
        listed_first: dict[int, bool] = defaultdict(bool)
        first_slot: dict[int, tuple[str, str, bool, str | None]] = {}
        self._rows_of: dict[int, list[int]] = defaultdict(list)
        self._members: list[tuple[int, ...]] = []
        self._family_ids: list[int] = [row.family_id for row in self._rows]
        self._rows_of_family: dict[int, list[int]] = defaultdict(list)
        for i, fid in enumerate(self._family_ids):
            self._rows_of_family[fid].append(i)
        for i, row in enumerate(self._rows):
            slots: list[GridSlot] = []
            for p in row.parents:
                families_of[p.person_id].add(row.family_id)
                listed_first[p.person_id] |= p.listed_first
                first_slot.setdefault(
                    p.person_id, (p.relationship, p.relationship_text, p.custody, p.email)
                )
                self._rows_of[p.person_id].append(i)
                slots.append(
                    GridSlot(p.person_id, p.name, p.relationship_text, p.listed_first, p.custody,
                             p.email)
                )
            self._slots.append(tuple(slots))
            self._members.append(tuple(p.person_id for p in row.parents))
        self._haystacks: list[str] | None = None
        self._people: dict[int, Candidate] = {
            pid: Candidate(
                person_id=pid,
                role="parent",
                first_name="",
                last_name="",
                email=first_slot[pid][3],
                email2=None,
                family_ids=tuple(sorted(fams)),
                family_key=None,
                multi_family=len(fams) > 1,
                listed_first=listed_first[pid],
                relationship=first_slot[pid][0],
                relationship_text=first_slot[pid][1],
                custody=first_slot[pid][2],
            )
            for pid, fams in families_of.items()
        }
        self._reason: dict[int, str] = {}
        self._family_out: set[int] = set()
        self._fam_ok: list[bool] = [False] * len(self._rows)
        self._included_count = 0
        self._importable_count = 0
        self._view: list[int] = list(range(len(self._rows)))
        self._filter = ""
        self._max_slots = max((len(s) for s in self._slots), default=1)
        self._recompute_all()

    # --- deciding -----------------------------------------------------------------------------

    def _allowed(self) -> set[str]:
        rel = self._setup.parents.relationships
        return set(rel) if rel is not None else set(RELATIONSHIP_GROUPS)

    def _special(self) -> set[int]:
        """People an override or an excluded family decides for: asked one by one."""
        out: set[int] = set()
        for o in self._setup.parents.overrides:
            if o.person_id is not None:
                out.add(o.person_id)
            elif not o.include:
                for i in self._rows_of_family.get(o.family_id, ()):
                    out.update(self._members[i])
        return out

    def _recompute_all(self) -> None:
        """Everyone again (a preset): the engine's rule, asked once per kind of parent.

        Without an override or an excluded family, the rule depends only on relationship,
        listed-first and custody, so people alike share one answer.
        """
        allowed = self._allowed()
        setup = self._setup
        special = self._special()
        memo: dict[tuple[str, str, bool, bool], str] = {}
        reason: dict[int, str] = {}
        for pid, c in self._people.items():
            if pid in special:
                reason[pid] = parent_reason(c, setup, allowed)
                continue
            key = (c.relationship, c.relationship_text, c.listed_first, c.custody)
            found = memo.get(key)
            if found is None:
                found = memo[key] = parent_reason(c, setup, allowed)
            reason[pid] = found
        self._reason = reason
        self._family_out = {
            o.family_id for o in setup.parents.overrides if o.person_id is None and not o.include
        }
        self._included_count = sum(1 for r in reason.values() if not r)
        included = {pid for pid, r in reason.items() if not r}
        out = self._family_out
        self._fam_ok = [
            fid not in out and not included.isdisjoint(members)
            for fid, members in zip(self._family_ids, self._members, strict=True)
        ]
        self._importable_count = sum(self._fam_ok)

    def _row_ok(self, i: int) -> bool:
        if self._family_ids[i] in self._family_out:
            return False
        return any(not self._reason[pid] for pid in self._members[i])

    def _recompute_people(self, people: set[int]) -> None:
        allowed = self._allowed()
        rows: set[int] = set()
        for pid in people:
            before = not self._reason[pid]
            self._reason[pid] = parent_reason(self._people[pid], self._setup, allowed)
            after = not self._reason[pid]
            self._included_count += int(after) - int(before)
            rows.update(self._rows_of[pid])
        for i in rows:
            ok = self._row_ok(i)
            self._importable_count += int(ok) - int(self._fam_ok[i])
            self._fam_ok[i] = ok

    # --- SubsetSource ------------------------------------------------------------------------

    @property
    def setup(self) -> SetupDoc:
        """The setup as the admin has shaped it so far (what the screen has been saving)."""
        return self._setup

    @property
    def preset(self) -> str:
        return self._setup.parents.preset

    @property
    def max_slots(self) -> int:
        return self._max_slots

    def __len__(self) -> int:
        return len(self._view)

    def family(self, index: int) -> tuple[int, str, str]:
        row = self._rows[self._view[index]]
        return (row.family_id, row.family_name, ", ".join(row.students))

    def slots(self, index: int) -> Sequence[GridSlot]:
        return self._slots[self._view[index]]

    def state(self, index: int, slot: int) -> SlotState:
        i = self._view[index]
        pid = self._members[i][slot]
        reason = self._reason[pid]
        overridden = any(
            o.person_id == pid and o.family_id in self._people[pid].family_ids
            for o in self._setup.parents.overrides
        )
        return SlotState(included=not reason, overridden=overridden, reason=reason)

    def family_excluded(self, index: int) -> bool:
        return self._family_ids[self._view[index]] in self._family_out

    def toggle(self, index: int, slot: int) -> Change:
        i = self._view[index]
        fid = self._rows[i].family_id
        pid = self._members[i][slot]
        want = bool(self._reason[pid])  # excluded now -> include
        # drop this person's overrides in their other families: one choice per person
        setup = self._setup
        for o in setup.parents.overrides:
            if o.person_id == pid and o.family_id != fid:
                setup = setup.with_override(o.family_id, pid, None)
        cleared = setup.with_override(fid, pid, None)
        by_preset = not parent_reason(self._people[pid], cleared, self._allowed())
        include: bool | None = None if by_preset == want else want
        self._setup = cleared if include is None else cleared.with_override(fid, pid, include)
        self._recompute_people({pid})
        return Change("slot", family_id=fid, person_id=pid, include=include)

    def toggle_family(self, index: int) -> Change:
        i = self._view[index]
        fid = self._rows[i].family_id
        include: bool | None = None if fid in self._family_out else False
        self._setup = self._setup.with_override(fid, None, include)
        if include is None:
            self._family_out.discard(fid)
        else:
            self._family_out.add(fid)
        touched = {pid for r in self._rows_with_family(fid) for pid in self._members[r]}
        self._recompute_people(touched)
        return Change("family", family_id=fid, include=include)

    def _rows_with_family(self, fid: int) -> list[int]:
        return self._rows_of_family.get(fid, [])

    def _haystack(self) -> list[str]:
        """Searchable text per row, built on the first search."""
        if self._haystacks is None:
            self._haystacks = [
                clean_display(
                    " ".join([row.family_name, *row.students,
                              *(f"{p.name} {p.email or ''}" for p in row.parents)])
                ).casefold()
                for row in self._rows
            ]
        return self._haystacks

    def set_preset(self, preset: str) -> Change:
        parents = self._setup.parents.model_copy(update={"preset": preset})
        self._setup = self._setup.model_copy(update={"parents": parents})
        self._recompute_all()
        return Change("preset", preset=preset)

    def set_filter(self, text: str) -> None:
        needle = clean_display(text).casefold()
        self._filter = needle
        if not needle:
            self._view = list(range(len(self._rows)))
        else:
            self._view = [i for i, h in enumerate(self._haystack()) if needle in h]

    def totals(self) -> Totals:
        everyone = len(self._people)
        rows = len(self._rows)
        return Totals(
            families_importable=self._importable_count,
            families_excluded=rows - self._importable_count,
            users_to_sync=self._included_count,
            users_to_skip=everyone - self._included_count,
        )
