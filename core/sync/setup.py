"""The saved sync setup of a site: one validated, versioned pydantic document.

It holds everything a re-sync needs to run without asking again: who to roster (criteria and
parent subset rules), the admin's conflict decisions, family groupings and emails pinned by merges.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SETUP_VERSION = 1

Kind = Literal["students", "parents"]
Preset = Literal["all", "mothers-fathers", "listed-first", "custodial"]
RelationshipGroup = Literal[
    "mother", "father", "stepmother", "stepfather", "guardian", "grandparent", "other"
]
DecisionAction = Literal["assign", "skip", "use-email2", "accept"]

KINDS: tuple[str, ...] = ("students", "parents")
PRESETS: tuple[str, ...] = ("all", "mothers-fathers", "listed-first", "custodial")
RELATIONSHIP_GROUPS: tuple[str, ...] = (
    "mother",
    "father",
    "stepmother",
    "stepfather",
    "guardian",
    "grandparent",
    "other",
)


def email_key(email: str | None) -> str | None:
    """The comparison form of an email: trimmed and case-folded; None when blank."""
    if email is None:
        return None
    key = email.strip().casefold()
    return key or None


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Criteria(_Doc):
    """Which students match. Empty ``schools``/``grades`` mean "any"."""

    schools: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ("Enrolled",)
    grades: tuple[str, ...] = ()

    @field_validator("schools", "statuses", "grades")
    @classmethod
    def _clean(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        out: list[str] = []
        for v in values:
            v = v.strip()
            if v and v not in out:
                out.append(v)
        return tuple(out)


class FamilyOverride(_Doc):
    """Include or exclude one parent of one family (``person_id`` None: the whole family)."""

    family_id: int
    person_id: int | None = None
    include: bool


class ParentRules(_Doc):
    """Which parents of matching students count.

    ``relationships`` None means every relationship group; the preset narrows further.
    """

    preset: Preset = "all"
    relationships: tuple[RelationshipGroup, ...] | None = None
    overrides: tuple[FamilyOverride, ...] = ()


class Decision(_Doc):
    """An admin's answer to a conflict, reused by every later sync.

    Keyed by ``email`` (the email's comparison key) and/or ``person_id``:
    - ``assign``: email + person: that person gets the email; the other sharers are skipped.
    - ``skip``: by email (every sharer) or by person.
    - ``use-email2``: by email (every sharer) or by person: use the person's ``email2``.
    - ``accept``: by person: import a person who is in several families, under ``family_id``
      (or the family where they are listed highest when None).
    """

    action: DecisionAction
    email: str | None = None
    person_id: int | None = None
    family_id: int | None = None
    decided_at: datetime = Field(default_factory=_now)

    @field_validator("email")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        return email_key(value)

    @property
    def target(self) -> tuple[str, str | int | None]:
        """What the decision is about: an email (assign/skip/use-email2 by email) or a person."""
        if self.email is not None:
            return ("email", self.email)
        if self.action == "accept":  # the family question is apart from the email question
            return ("family", self.person_id)
        return ("person", self.person_id)


class DecisionUndo(_Doc):
    """What one decision (or one bulk decision) replaced, so it can be taken back."""

    label: str
    targets: tuple[tuple[str, str | int | None], ...]
    previous: tuple[Decision, ...] = ()


UNDO_DEPTH = 20
"""Decisions that can be taken back, newest first."""


class SetupDoc(_Doc):
    """The whole saved setup of a site."""

    version: int = SETUP_VERSION
    kind: Kind
    criteria: Criteria = Criteria()
    parents: ParentRules = ParentRules()
    decisions: tuple[Decision, ...] = ()
    family_groups: tuple[tuple[int, ...], ...] = ()
    kept_emails: dict[int, str] = Field(default_factory=dict)
    """personId -> email key the admin kept through a merge; sync does not overwrite it."""
    decision_undo: tuple[DecisionUndo, ...] = ()
    """The latest decisions, newest last, each with what it replaced (``undo_decisions``)."""

    # --- changes (return new documents: the document is immutable) ------------------------

    def with_decision(self, decision: Decision) -> SetupDoc:
        kept = tuple(d for d in self.decisions if d.target != decision.target)
        return self.model_copy(update={"decisions": (*kept, decision)})

    def with_decisions(self, decisions: list[Decision], label: str) -> SetupDoc:
        """Save ``decisions`` as one step that ``undo_decisions`` can take back."""
        targets = tuple(dict.fromkeys(d.target for d in decisions))
        wanted = set(targets)
        previous = tuple(d for d in self.decisions if d.target in wanted)
        kept = tuple(d for d in self.decisions if d.target not in wanted)
        latest = {d.target: d for d in decisions}
        undo = DecisionUndo(label=label, targets=targets, previous=previous)
        return self.model_copy(update={
            "decisions": (*kept, *latest.values()),
            "decision_undo": (*self.decision_undo, undo)[-UNDO_DEPTH:],
        })

    def undo_decisions(self) -> tuple[SetupDoc, str | None]:
        """Take back the latest decision step; returns the new document and the step's label."""
        if not self.decision_undo:
            return self, None
        step = self.decision_undo[-1]
        wanted = set(step.targets)
        kept = tuple(d for d in self.decisions if d.target not in wanted)
        doc = self.model_copy(update={
            "decisions": (*kept, *step.previous),
            "decision_undo": self.decision_undo[:-1],
        })
        return doc, step.label

    def with_group(self, family_ids: list[int] | tuple[int, ...]) -> SetupDoc:
        """Group families; groups sharing a family id melt into one."""
        merged = set(family_ids)
        rest: list[tuple[int, ...]] = []
        for group in self.family_groups:
            if merged & set(group):
                merged |= set(group)
            else:
                rest.append(group)
        if len(merged) < 2:
            raise ValueError("a family group needs at least two different family ids")
        return self.model_copy(update={"family_groups": (*rest, tuple(sorted(merged)))})

    def with_override(
        self, family_id: int, person_id: int | None, include: bool | None
    ) -> SetupDoc:
        """Set (``include`` True/False) or clear (None) a per-family override."""
        rest = tuple(
            o
            for o in self.parents.overrides
            if (o.family_id, o.person_id) != (family_id, person_id)
        )
        if include is not None:
            rest = (
                *rest,
                FamilyOverride(family_id=family_id, person_id=person_id, include=include),
            )
        return self.model_copy(
            update={"parents": self.parents.model_copy(update={"overrides": rest})}
        )

    def with_kept_email(self, person_id: int, email: str) -> SetupDoc:
        key = email_key(email)
        kept = dict(self.kept_emails)
        if key:
            kept[person_id] = key
        return self.model_copy(update={"kept_emails": kept})

    # --- lookups --------------------------------------------------------------------------

    def family_key_map(self) -> dict[int, int]:
        """FACTS familyId -> the family id that stands for its group (the smallest)."""
        out: dict[int, int] = {}
        for group in self.family_groups:
            head = min(group)
            for fid in group:
                out[fid] = head
        return out

    def decision_index(self) -> DecisionIndex:
        """The decisions by what they are about, built once per plan (not scanned per person)."""
        return DecisionIndex(self.decisions)


class DecisionIndex:
    """Saved decisions keyed by target; the last one saved for a target wins."""

    __slots__ = ("_by_target",)

    def __init__(self, decisions: tuple[Decision, ...]) -> None:
        self._by_target = {d.target: d for d in decisions}

    def email_decision(self, key: str | None) -> Decision | None:
        return None if key is None else self._by_target.get(("email", key))

    def person_decision(self, person_id: int) -> Decision | None:
        """skip / use-email2 for one person."""
        return self._by_target.get(("person", person_id))

    def family_decision(self, person_id: int) -> Decision | None:
        """accept (under a family) for a person who is in several families."""
        return self._by_target.get(("family", person_id))


def dump_setup(doc: SetupDoc) -> str:
    return doc.model_dump_json()


def parse_setup(text: str) -> SetupDoc:
    """Read a saved document; older versions are upgraded here when the format changes."""
    return SetupDoc.model_validate_json(text)


def setup_changes(old: SetupDoc | None, new: SetupDoc) -> list[str]:
    """How ``new`` differs from ``old`` in the rules that select people, in words (``schools
    all → North``): what a setup event says, and what undo offers to put back. Decisions are
    left out (they have their own words)."""

    def words(values: tuple[str, ...] | None) -> str:
        return ", ".join(values) if values else "all"

    if old is None:
        return [f"kind {new.kind}"]
    out: list[str] = []
    if old.kind != new.kind:
        out.append(f"kind {old.kind} → {new.kind}")
    for name in ("schools", "statuses", "grades"):
        a, b = getattr(old.criteria, name), getattr(new.criteria, name)
        if a != b:
            out.append(f"{name} {words(a)} → {words(b)}")
    if old.parents.preset != new.parents.preset:
        out.append(f"parents {old.parents.preset} → {new.parents.preset}")
    if old.parents.relationships != new.parents.relationships:
        out.append(f"relationships {words(old.parents.relationships)} → "
                   f"{words(new.parents.relationships)}")
    if old.parents.overrides != new.parents.overrides:
        out.append(f"per-family choices {len(old.parents.overrides)} → "
                   f"{len(new.parents.overrides)}")
    if old.family_groups != new.family_groups:
        out.append(f"family groups {len(old.family_groups)} → {len(new.family_groups)}")
    return out
