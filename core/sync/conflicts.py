"""Candidates + accounts + decisions -> conflicts, and each candidate's effective email.

Conflicts never resolve silently (design.md §4): a conflicted candidate waits for a decision while
everyone else syncs. Flags follow the traffic light schools know (design.md §4b): **red** for a
family's main contact or a cross-family clash, **orange** for secondary members, **gray** once a
saved decision resolved it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from core.sync.rows import AccountRow
from core.sync.selection import Candidate
from core.sync.setup import Decision, DecisionAction, SetupDoc, email_key
from core.sync.text import email_is_valid

Flag = Literal["red", "orange", "gray"]
ConflictKind = Literal[
    "shared-email-family",
    "shared-email-cross-family",
    "email-taken",
    "missing-email",
    "invalid-email",
    "multi-family",
]


@dataclass(frozen=True)
class ConflictPerson:
    person_id: int
    name: str
    family_ids: tuple[int, ...]
    listed_first: bool
    email: str | None
    email2: str | None


ChoiceKind = Literal["assign", "skip-email", "skip-person", "email2-email", "email2-person",
                     "accept"]


@dataclass(frozen=True)
class ConflictChoice:
    """One answer to a conflict, typed: what it does, to whom; screens and the CLI only word it."""

    kind: ChoiceKind
    email: str | None = None
    """The conflicted email (assign, and the by-email skip / email2)."""
    person: ConflictPerson | None = None
    """Whom it is about (assign, accept, and the per-person skip / email2)."""
    family_id: int | None = None
    """accept: the family the person is rostered under."""
    possible: bool = True
    """False when the data does not allow it (email2 where someone has none)."""

    def decision(self) -> Decision:
        """The saved decision this choice makes."""
        pid = self.person.person_id if self.person is not None else None
        if self.kind == "assign":
            return Decision(action="assign", email=self.email, person_id=pid)
        if self.kind == "accept":
            return Decision(action="accept", person_id=pid, family_id=self.family_id)
        action: DecisionAction = "skip" if self.kind.startswith("skip") else "use-email2"
        if self.kind.endswith("-email"):
            return Decision(action=action, email=self.email)
        return Decision(action=action, person_id=pid)


@dataclass(frozen=True)
class Conflict:
    key: str
    """Stable identity across syncs: 'email:<key>' or 'person:<id>:<kind>'."""
    kind: ConflictKind
    flag: Flag
    email: str | None
    people: tuple[ConflictPerson, ...]
    message: str
    choices: tuple[str, ...]
    """What ``decide`` accepts here: assign (give the email to one person), skip, use-email2, accept."""
    decision: str | None = None
    """How a saved decision resolved it (gray), None while open."""
    new: bool = True
    """Not among the open conflicts of the last recorded sync: re-syncs show only what is new."""

    @property
    def open(self) -> bool:
        return self.decision is None

    @property
    def person_ids(self) -> tuple[int, ...]:
        return tuple(p.person_id for p in self.people)

    @property
    def options(self) -> tuple[ConflictChoice, ...]:
        """Every answer ``choices`` allows, one per person or family where it matters."""
        out: list[ConflictChoice] = []
        by_email = self.kind in ("shared-email-family", "shared-email-cross-family") and bool(
            self.email
        )
        for choice in self.choices:
            if choice == "assign" and self.email is not None:
                out += [ConflictChoice("assign", email=self.email, person=p) for p in self.people]
            elif choice == "skip":
                if by_email:
                    out.append(ConflictChoice("skip-email", email=self.email))
                else:
                    out += [ConflictChoice("skip-person", person=p) for p in self.people]
            elif choice == "use-email2":
                if by_email:
                    out.append(ConflictChoice("email2-email", email=self.email,
                                              possible=all(p.email2 for p in self.people)))
                else:
                    out += [ConflictChoice("email2-person", person=p, possible=bool(p.email2))
                            for p in self.people]
            elif choice == "accept":
                out += [ConflictChoice("accept", person=p, family_id=f)
                        for p in self.people for f in p.family_ids]
        return tuple(out)


@dataclass(frozen=True)
class Resolution:
    emails: Mapping[int, str]
    """Effective email (display form) of every importable candidate."""
    email_keys: Mapping[int, str]
    """The comparison form of each of ``emails`` (computed once, here)."""
    family_keys: Mapping[int, str | None]
    blocked: frozenset[int]
    """Candidates waiting for a decision (open conflicts)."""
    skipped: Mapping[int, str]
    """Candidates not imported because of a decision, with the reason."""
    conflicts: tuple[Conflict, ...]


def _who(c: Candidate) -> ConflictPerson:
    return ConflictPerson(c.person_id, c.name, c.family_ids, c.listed_first, c.email, c.email2)


def _describe(d: Decision) -> str:
    if d.action == "assign":
        return f"email given to person {d.person_id}"
    if d.action == "accept":
        return "accepted" + (f" in family {d.family_id}" if d.family_id else "")
    return {"skip": "skipped", "use-email2": "uses email2"}[d.action]


def _personal_flag(c: Candidate, kind: str) -> Flag:
    return "red" if kind == "parents" and c.listed_first else "orange"


def resolve(
    candidates: Sequence[Candidate], accounts: Iterable[AccountRow], setup: SetupDoc
) -> Resolution:
    """Apply saved decisions, then detect what still needs one."""
    by_email: dict[str, AccountRow] = {}
    by_person: dict[int, AccountRow] = {}
    for a in accounts:
        if a.email_key:
            by_email[a.email_key] = a
        if a.person_id is not None:
            by_person[a.person_id] = a
    kind = setup.kind
    conflicts: list[Conflict] = []
    blocked: set[int] = set()
    skipped: dict[int, str] = {}
    emails: dict[int, str] = {}
    family_keys: dict[int, str | None] = {}
    heads = setup.family_key_map()
    decisions = setup.decision_index()
    shared_originally: dict[str, list[Candidate]] = defaultdict(list)
    keys: dict[int, str] = {}
    groups: dict[str, list[Candidate]] = defaultdict(list)

    for c in candidates:
        pid = c.person_id
        if c.email_key:
            shared_originally[c.email_key].append(c)
        pd = decisions.person_decision(pid)
        ed = decisions.email_decision(c.email_key)
        email = c.email
        applied: Decision | None = None
        for d in (pd, ed):
            if d is None or applied is not None:
                continue
            if d.action == "skip":
                skipped[pid] = (
                    f"skipped by decision ({'person' if d is pd else 'email ' + (c.email or '')})"
                )
                applied = d
            elif d.action == "use-email2":
                email, applied = c.email2, d
            elif d.action == "assign" and d is ed:
                applied = d
                if d.person_id != pid:
                    skipped[pid] = f"email {c.email} was given to person {d.person_id} by decision"
        # pinned through a merge: the linked account keeps the email the admin chose
        pinned = setup.kept_emails.get(pid)
        acct = by_person.get(pid)
        if pinned and acct is not None and acct.email_key == pinned and acct.email:
            email = acct.email
        # family
        family_keys[pid] = c.family_key
        if c.multi_family:
            fd = decisions.family_decision(pid)
            accepted = fd is not None
            if fd is not None and fd.family_id in c.family_ids:
                family_keys[pid] = str(heads.get(fd.family_id, fd.family_id))
            conflicts.append(
                Conflict(
                    key=f"person:{pid}:multi-family",
                    kind="multi-family",
                    flag="gray" if accepted or pid in skipped else "orange",
                    email=c.email,
                    people=(_who(c),),
                    message=(
                        f"{c.label()} is in several families "
                        f"({', '.join(str(f) for f in c.family_ids)}): accept them under one "
                        "family, skip them, or group the families"
                    ),
                    choices=("accept", "skip"),
                    decision=_describe(fd) if fd is not None else skipped.get(pid),
                )
            )
            if not accepted and pid not in skipped:
                blocked.add(pid)
        if pid in skipped:
            if applied is not None and (not c.email or not email_is_valid(c.email)):
                conflicts.append(_personal(c, kind, decision=_describe(applied)))
            continue
        problem = _email_problem(c, email, applied)
        if problem:
            conflicts.append(problem)
            blocked.add(pid)
            continue
        if (
            applied is not None
            and applied.action == "use-email2"
            and (not c.email or not email_is_valid(c.email))
        ):
            conflicts.append(_personal(c, kind, decision=_describe(applied)))
        assert email is not None
        emails[pid] = email
        key = c.email_key if email is c.email else email_key(email)
        assert key is not None
        keys[pid] = key
        groups[key].append(c)

    # one email on several candidates
    for key, members in groups.items():
        if len(members) < 2:
            continue
        blocked.update(c.person_id for c in members)
        conflicts.append(_shared(key, members, kind))
    # decided email clashes stay visible in gray
    for key, members in shared_originally.items():
        d = decisions.email_decision(key)
        if d is not None and len(members) > 1:
            gray = _shared(key, members, kind)
            conflicts.append(
                Conflict(
                    key=gray.key,
                    kind=gray.kind,
                    flag="gray",
                    email=gray.email,
                    people=gray.people,
                    message=gray.message,
                    choices=gray.choices,
                    decision=_describe(d),
                )
            )

    # an email already used by another site account (free when its holder moves to another
    # email in this same plan; blocking one person can keep an email taken, so loop to a fixpoint)
    by_pid = {c.person_id: c for c in candidates}
    contested = [
        (pid, key, holder)
        for pid, key in keys.items()
        if (holder := by_email.get(key)) is not None and holder.person_id != pid
    ]
    changed = True
    while changed:
        changed = False
        for pid, key, holder in contested:
            if pid in blocked:
                continue
            email = emails[pid]
            own = by_person.get(pid)
            c = by_pid[pid]
            q = holder.person_id
            if q is not None:
                if q in keys and q not in blocked and keys[q] != key:
                    continue  # the holder's person changes email in this plan
                message = (
                    f"{c.label()}: email {email} is already used by account {holder.name} "
                    f"({holder.status}), linked to FACTS person {q}"
                )
            elif own is not None and own.id != holder.id:
                message = (
                    f"{c.label()}: email {email} is used by the unlinked account {holder.name}, "
                    f"but the person already has the account {own.email or own.name}: merge the two"
                )
            else:
                continue
            blocked.add(pid)
            changed = True
            conflicts.append(
                Conflict(
                    key=f"email:{key}:taken",
                    kind="email-taken",
                    flag="red",
                    email=email,
                    people=(_who(c),),
                    message=message,
                    choices=("skip", "use-email2"),
                )
            )
    for pid in blocked:
        emails.pop(pid, None)
        keys.pop(pid, None)
    conflicts.sort(key=lambda k: ({"red": 0, "orange": 1, "gray": 2}[k.flag], k.key))
    return Resolution(
        emails=emails,
        email_keys=keys,
        family_keys=family_keys,
        blocked=frozenset(blocked),
        skipped=skipped,
        conflicts=tuple(conflicts),
    )


def _personal(c: Candidate, kind: str, decision: str | None = None) -> Conflict:
    missing = not c.email
    what: ConflictKind = "missing-email" if missing else "invalid-email"
    message = (
        f"{c.label()} has no email" if missing else f"{c.label()}: email {c.email!r} is not valid"
    )
    return Conflict(
        key=f"person:{c.person_id}:{what}",
        kind=what,
        flag="gray" if decision else _personal_flag(c, kind),
        email=c.email,
        people=(_who(c),),
        message=message + (": skip them or use email2" if c.email2 else ": skip them"),
        choices=("skip", "use-email2") if c.email2 else ("skip",),
        decision=decision,
    )


def _email_problem(c: Candidate, email: str | None, applied: Decision | None) -> Conflict | None:
    if email and email_is_valid(email):
        return None
    if applied is not None and applied.action == "use-email2":
        flag = _personal_flag(c, "parents" if c.role == "parent" else "students")
        text = "blank" if not email else f"{email!r}, not valid"
        return Conflict(
            key=f"person:{c.person_id}:{'missing-email' if not c.email else 'invalid-email'}",
            kind="missing-email" if not c.email else "invalid-email",
            flag=flag,
            email=c.email,
            people=(_who(c),),
            message=f"{c.label()}: the decision says use email2, but email2 is {text}: skip them",
            choices=("skip",),
        )
    return _personal(c, "parents" if c.role == "parent" else "students")


def _shared(key: str, members: list[Candidate], kind: str) -> Conflict:
    families = {c.family_key for c in members}
    cross = len(families) > 1
    students = sum(1 for c in members if c.role == "student")
    red = cross or any(c.listed_first for c in members) or students >= 2
    names = ", ".join(c.label() for c in members)
    where = "in different families" if cross else "in one family"
    return Conflict(
        key=f"email:{key}",
        kind="shared-email-cross-family" if cross else "shared-email-family",
        flag="red" if red else "orange",
        email=members[0].email,
        people=tuple(_who(c) for c in members),
        message=f"email {members[0].email} is shared by {len(members)} people {where}: {names}",
        choices=("assign", "skip", "use-email2"),
    )
