"""Pure: which FACTS ServiceHours row, if any, is already an entry's: FACTS is the witness.

Before an entry's first POST the worker reads its person's FACTS rows and asks :func:`reconcile`,
in this order: the row carrying the entry's reference (``factsync:<site>:<entry>`` at the start
of its note); else an un-referenced row of the same person with the same date, hours and
description (trimmed, case-folded): a row entered in FACTS by hand; else none (POST). One FACTS
row is never given to two entries. The same rules classify hours before anything is queued
(``hours import/backfill --dry-run``, the hour-syncing preview) and drive the audit.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from core.facts.models import StudentServiceHoursModel as Row
from core.writeback.rules import reference_of

HOURS_EPSILON = 1e-6


def norm_text(text: str | None) -> str:
    """Descriptions compared as people read them: trimmed, inner spaces folded, case-folded."""
    return " ".join((text or "").split()).casefold()


def row_date(row: Row) -> date | None:
    return row.date.date() if row.date is not None else None


def same_hours(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and abs(float(a) - float(b)) < HOURS_EPSILON


@dataclass(frozen=True)
class Seek:
    """An entry looking for its FACTS row. ``key`` is the caller's (an outbox row id, a line)."""

    key: Hashable
    reference: str | None
    person_ids: frozenset[int]
    day: date
    hours: float
    description: str
    hand: bool = True
    """Whether a row entered by hand may be adopted (not for the read-back of a fresh POST, nor
    for an entry that is no longer approved: a hand row is never adopted only to be zeroed)."""


@dataclass(frozen=True)
class Found:
    """The FACTS row that is the entry's, how it was recognised, and any further rows with the
    same reference that still count hours (duplicates FACTS can never delete)."""

    row: Row
    how: Literal["reference", "hand"]
    duplicates: tuple[Row, ...] = ()

    @property
    def service_hours_id(self) -> int:
        return int(self.row.serviceHoursId)


def _kept(group: list[Row], seek: Seek) -> tuple[Row, tuple[Row, ...]]:
    """The row an entry keeps among several carrying its reference: one that already holds the
    entry's values, else the oldest; the others that still count hours are duplicates."""
    ordered = sorted(group, key=lambda r: r.serviceHoursId)
    kept = next(
        (r for r in ordered if same_hours(r.hours, seek.hours) and row_date(r) == seek.day),
        ordered[0],
    )
    extra = tuple(r for r in ordered if r is not kept and not same_hours(r.hours, 0.0))
    return kept, extra


def relevant(seeks: Sequence[Seek], rows: Iterable[Row]) -> list[Row]:
    """The rows :func:`reconcile` and :func:`classify` could use for these seeks: those
    carrying one of their references, and un-referenced ones of their people on their dates
    (a person's whole history need not be checked against the store)."""
    refs = {s.reference for s in seeks if s.reference}
    days = {(p, s.day) for s in seeks for p in s.person_ids}
    out = []
    for r in rows:
        ref = reference_of(r.note)
        if ref in refs or (ref is None and (r.personId, row_date(r)) in days):
            out.append(r)
    return out


def reconcile(
    seeks: Sequence[Seek], rows: Iterable[Row], taken: Collection[int] = ()
) -> dict[Hashable, Found]:
    """Each seek's FACTS row, where it has one. ``taken``: ids other entries already hold."""
    rows = [r for r in rows if r.serviceHoursId]
    used = {int(i) for i in taken}
    by_ref: dict[str, list[Row]] = {}
    hand_rows: list[Row] = []
    for r in rows:
        ref = reference_of(r.note)
        if ref is None:
            hand_rows.append(r)
        else:
            by_ref.setdefault(ref, []).append(r)
    found: dict[Hashable, Found] = {}
    for seek in seeks:
        group = by_ref.get(seek.reference or "") if seek.reference else None
        group = [r for r in group or () if int(r.serviceHoursId) not in used]
        if group:
            kept, extra = _kept(group, seek)
            found[seek.key] = Found(kept, "reference", extra)
            used.add(int(kept.serviceHoursId))
    hand_rows.sort(key=lambda r: r.serviceHoursId)
    for seek in seeks:
        if seek.key in found or not seek.hand:
            continue
        want = norm_text(seek.description)
        for r in hand_rows:
            if (
                int(r.serviceHoursId) not in used
                and r.personId in seek.person_ids
                and row_date(r) == seek.day
                and same_hours(r.hours, seek.hours)
                and norm_text(r.description) == want
            ):
                found[seek.key] = Found(r, "hand")
                used.add(int(r.serviceHoursId))
                break
    return found


Verdict = Literal["new", "in_facts", "conflict"]


@dataclass(frozen=True)
class Classified:
    """What turning hour syncing on (or an import) would do with each entry."""

    verdicts: dict[Hashable, Verdict] = field(default_factory=dict)
    found: dict[Hashable, Found] = field(default_factory=dict)
    conflicts: dict[Hashable, Row] = field(default_factory=dict)

    def count(self, verdict: Verdict) -> int:
        return sum(1 for v in self.verdicts.values() if v == verdict)


def classify(seeks: Sequence[Seek], rows: Iterable[Row], taken: Collection[int] = ()) -> Classified:
    """``in_facts``: FACTS holds the entry (adopted, not sent); ``conflict``: FACTS holds an
    un-referenced row of the same person and date with other hours (sent anyway, but worth a
    look); ``new``: sent."""
    rows = list(rows)
    found = reconcile(seeks, rows, taken)
    used = {f.service_hours_id for f in found.values()} | {int(i) for i in taken}
    out = Classified(found=found)
    for seek in seeks:
        if seek.key in found:
            out.verdicts[seek.key] = "in_facts"
            continue
        clash = next(
            (
                r
                for r in rows
                if r.serviceHoursId
                and int(r.serviceHoursId) not in used
                and reference_of(r.note) is None
                and r.personId in seek.person_ids
                and row_date(r) == seek.day
                and not same_hours(r.hours, seek.hours)
            ),
            None,
        )
        if clash is not None:
            out.verdicts[seek.key] = "conflict"
            out.conflicts[seek.key] = clash
        else:
            out.verdicts[seek.key] = "new"
    return out
