"""Decisions by kind: one answer for every open conflict of a kind, with how many it decides.

A 5,000-family school has about a thousand conflicts and most have the same obvious answer
(the listed-first parent keeps the family's email; a student without an email is skipped).
Each bulk decision is a list of ordinary saved decisions, stored as one step so that one undo
takes it back (``SetupDoc.with_decisions``). Pure: conflicts in, decisions out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.sync.conflicts import Conflict, ConflictChoice
from core.sync.setup import Decision


@dataclass(frozen=True)
class BulkDecision:
    key: str
    """Stable name (``factsync decide SITE --bulk KEY``)."""
    label: str
    """What it does, in words: "give each shared in-family email to the listed-first parent"."""
    unit: str
    """What it counts: families or people."""
    decisions: tuple[Decision, ...]
    keys: tuple[str, ...] = ()
    """The conflicts it decides (``Conflict.key``), one per decision."""

    @property
    def count(self) -> int:
        return len(self.decisions)

    def summary(self) -> str:
        """``give each shared in-family email to the listed-first parent: 43 families``."""
        return f"{self.label}: {self.count:,} {self.unit}"


def _listed_first(c: Conflict) -> ConflictChoice | None:
    firsts = [p for p in c.people if p.listed_first]
    if c.kind != "shared-email-family" or len(firsts) != 1:
        return None
    return next((o for o in c.options if o.kind == "assign" and o.person == firsts[0]), None)


def _only(kinds: tuple[str, ...], choice: str) -> Callable[[Conflict], ConflictChoice | None]:
    def pick(c: Conflict) -> ConflictChoice | None:
        if c.kind not in kinds or len(c.people) != 1:
            return None
        return next((o for o in c.options if o.kind == choice and o.possible), None)

    return pick


KINDS: tuple[tuple[str, str, str, Callable[[Conflict], ConflictChoice | None]], ...] = (
    ("listed-first", "give each shared in-family email to the listed-first parent", "families",
     _listed_first),
    ("email2-no-email", "use the second email of every person without an email who has one",
     "people", _only(("missing-email",), "email2-person")),
    ("skip-no-email", "skip every person without an email", "people",
     _only(("missing-email",), "skip-person")),
    ("skip-invalid-email", "skip every person whose email is not valid", "people",
     _only(("invalid-email",), "skip-person")),
)
"""(key, label, unit, how one conflict is answered) in the order screens offer them."""

BULK_KEYS: tuple[str, ...] = tuple(k[0] for k in KINDS)


def bulk_decisions(conflicts: Sequence[Conflict]) -> tuple[BulkDecision, ...]:
    """Every bulk decision that would decide at least one open conflict."""
    out: list[BulkDecision] = []
    for key, label, unit, pick in KINDS:
        decisions, keys = [], []
        for c in conflicts:
            choice = pick(c) if c.open else None
            if choice is not None:
                decisions.append(choice.decision())
                keys.append(c.key)
        if decisions:
            out.append(BulkDecision(key, label, unit, tuple(decisions), tuple(keys)))
    return tuple(out)
