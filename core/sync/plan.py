"""The SyncPlan: pure, no I/O. Roster + setup + current accounts -> what a sync would do.

Every row carries its reason, so the wizard can drill from a count to the people behind it and the
CLI can print it as JSON; ``apply`` executes exactly this value.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from operator import attrgetter
from typing import Any, Literal

from core.facts.records import Unreadable
from core.roster import Roster
from core.sync.conflicts import Conflict, Resolution, resolve
from core.sync.rows import AccountRow
from core.sync.selection import Candidate, Selection, select
from core.sync.setup import SetupDoc
from core.sync.text import name_key
from core.threshold import ArchiveThreshold

Action = Literal["add", "link", "update", "archive", "restore", "unchanged", "skip", "conflict"]
ACTIONS: tuple[Action, ...] = (
    "add",
    "link",
    "update",
    "archive",
    "restore",
    "unchanged",
    "skip",
    "conflict",
)
WRITING: frozenset[str] = frozenset({"add", "link", "update", "archive", "restore"})

ARCHIVE_SHARE = 0.20
"""The default threshold: a run archiving more than this share of the site's synced accounts
needs a confirmation (a site sets its own, ``setup --archive-threshold``)."""
SHRINK_SHARE = 0.50
"""Fewer matching students than this share of the last sync's means a failed fetch, not a school."""

COUNT_KEYS: dict[str, Action] = {
    "added": "add",
    "linked": "link",
    "updated": "update",
    "archived": "archive",
    "restored": "restore",
    "unchanged": "unchanged",
    "skipped": "skip",
}

HELD = "held: FACTS record unreadable in this run"
"""Why an account is kept as it is: its FACTS record could not be read, so it proves nothing."""

FORGOTTEN_SKIP = "forgotten at a data-deletion request (factsync forget): not synced again"
"""Why a person FACTS still returns is skipped: their account here was forgotten."""

SYNCED_FIELDS = ("email", "email_key", "first_name", "last_name", "role", "family_key", "grade")
_synced = attrgetter(*SYNCED_FIELDS, "person_id")


@dataclass(frozen=True, slots=True)
class Target:
    """The account fields sync owns, as they should be after the run."""

    person_id: int
    email: str
    first_name: str
    last_name: str
    role: str
    family_key: str | None
    grade: str | None
    email_key: str
    """``email``'s comparison form (``setup.email_key``)."""


@dataclass(frozen=True, slots=True)
class FieldChange:
    field: str
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class PlanItem:
    action: Action
    person_id: int | None
    account_id: int | None
    name: str
    email: str | None
    family_key: str | None
    reason: str = ""
    changes: tuple[FieldChange, ...] = ()
    target: Target | None = None
    before: AccountRow | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "personId": self.person_id,
            "accountId": self.account_id,
            "name": self.name,
            "email": self.email,
            "familyKey": self.family_key,
            "reason": self.reason,
            "changes": [
                {"field": c.field, "before": c.before, "after": c.after} for c in self.changes
            ],
        }


@dataclass(frozen=True)
class DuplicateSide:
    account_id: int | None
    person_id: int | None
    name: str
    email: str | None
    family_key: str | None
    new: bool
    """True when the account does not exist yet (it is added by this plan)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "accountId": self.account_id,
            "personId": self.person_id,
            "name": self.name,
            "email": self.email,
            "familyKey": self.family_key,
            "new": self.new,
        }


@dataclass(frozen=True)
class Duplicate:
    """Two accounts that are likely one person: offered for a merge, never merged silently."""

    a: DuplicateSide
    b: DuplicateSide
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"a": self.a.to_json(), "b": self.b.to_json(), "reason": self.reason}


@dataclass(frozen=True)
class ArchiveSafety:
    """Whether the plan's archives may be written, and why not."""

    verdict: Literal["ok", "needs-confirmation", "refused"]
    archive_count: int
    synced_count: int
    reasons: tuple[str, ...] = ()

    @property
    def share(self) -> float:
        return self.archive_count / self.synced_count if self.synced_count else 0.0


@dataclass(frozen=True)
class SyncPlan:
    kind: str
    items: tuple[PlanItem, ...]
    conflicts: tuple[Conflict, ...]
    duplicates: tuple[Duplicate, ...]
    archive: ArchiveSafety
    withheld: tuple[PlanItem, ...] = ()
    """Archives the plan refused to make (a roster that looks like a failed fetch)."""
    matched_students: int = 0
    roster_students: int = 0
    enrolled_students: int = 0
    conflicts_changed: bool = False
    """The open conflicts differ from those of the last recorded sync (worth recording)."""
    unreadable: tuple[Unreadable, ...] = ()
    """FACTS records left out of the roster because they cannot be read."""
    stop: str | None = None
    """Why nothing may be applied (too many unreadable records in one table), or None."""
    seen_run: int | None = None
    """The site's newest run (0: none) when its accounts were read: apply refuses the plan once
    another run (sync, merge, undo) came after it. None for a plan made away from the store."""
    _by_action: Mapping[str, tuple[PlanItem, ...]] = field(default_factory=dict, repr=False)

    def of(self, action: Action) -> tuple[PlanItem, ...]:
        return self._by_action.get(action, ())

    @property
    def open_conflicts(self) -> tuple[Conflict, ...]:
        return tuple(c for c in self.conflicts if c.open)

    @property
    def writes(self) -> int:
        return sum(len(self._by_action.get(a, ())) for a in WRITING)

    @property
    def needs_confirmation(self) -> bool:
        return self.archive.verdict == "needs-confirmation"

    @property
    def held(self) -> tuple[PlanItem, ...]:
        """Accounts kept as they are because their FACTS record was unreadable this run."""
        return tuple(it for it in self.of("unchanged") if it.reason.startswith(HELD))

    def counts(self) -> dict[str, int]:
        out = {key: len(self.of(action)) for key, action in COUNT_KEYS.items()}
        out["conflicts"] = len(self.open_conflicts)
        out["held"] = len(self.held)
        out["unreadable"] = len(self.unreadable)
        return out

    def __repr__(self) -> str:
        """Its counts, not its rows: asyncio, workers and tracebacks format it (see Roster)."""
        counts = ", ".join(f"{k} {v}" for k, v in self.counts().items() if v)
        return f"SyncPlan({self.kind}: {counts or 'nothing'})"


def make_plan(
    setup: SetupDoc,
    roster: Roster,
    accounts: Sequence[AccountRow],
    *,
    previous_enrolled: int | None = None,
    seen_conflicts: frozenset[str] | None = None,
    selection: Selection | None = None,
    threshold: ArchiveThreshold | None = None,
) -> SyncPlan:
    """The whole pipeline: select, resolve conflicts, plan.

    ``previous_enrolled``: enrolled students at the last trusted sync (a far smaller roster now
    is a failed fetch, and archives are refused). ``seen_conflicts``: keys of the conflicts open
    at the last sync, so only new ones are marked ``new``. ``selection``: the review model's
    (``review.ReviewModel.selection``), so a reviewed roster is not selected a second time.
    ``threshold``: the site's archive threshold (default 20 %).
    """
    if selection is None:
        selection = select(roster, setup)
    resolution = resolve(selection.candidates, accounts, setup)
    plan = plan_from(
        selection,
        resolution,
        accounts,
        previous_enrolled=previous_enrolled,
        seen_conflicts=seen_conflicts,
        held=roster.held_person_ids,
        hold_unknown=roster.key_unreadable,
        threshold=threshold,
    )
    return replace(plan, unreadable=tuple(roster.unreadable), stop=roster.unreadable_stop())


def _target(c: Candidate, res: Resolution) -> Target:
    pid = c.person_id
    return Target(pid, res.emails[pid], c.first_name, c.last_name, c.role,
                  res.family_keys.get(pid), c.grade, res.email_keys[pid])


def diff(account: AccountRow, target: Target) -> tuple[FieldChange, ...]:
    if account.origin == "sis" and _synced(account) == _synced(target):
        return ()  # the common case of a re-sync, compared in one go
    out: list[FieldChange] = []
    for name in SYNCED_FIELDS:
        before, after = getattr(account, name), getattr(target, name)
        if before != after:
            out.append(FieldChange(name, before, after))
    if account.person_id != target.person_id:
        out.append(FieldChange("person_id", account.person_id, target.person_id))
    if account.origin != "sis":
        out.append(FieldChange("origin", account.origin, "sis"))
    return tuple(out)


def plan_from(
    selection: Selection,
    res: Resolution,
    accounts: Sequence[AccountRow],
    *,
    previous_enrolled: int | None = None,
    seen_conflicts: frozenset[str] | None = None,
    held: frozenset[int] = frozenset(),
    hold_unknown: bool = False,
    threshold: ArchiveThreshold | None = None,
) -> SyncPlan:
    """``held``: people whose FACTS records were unreadable; their accounts stay as they are.
    ``hold_unknown``: some record's key was unreadable, so an account FACTS no longer returns
    (and gives no reason for) may be that record's: it is held rather than archived."""

    def keep(acct: AccountRow) -> PlanItem:
        return PlanItem(
            "unchanged",
            person_id=acct.person_id,
            account_id=acct.id,
            name=acct.name,
            email=acct.email,
            family_key=acct.family_key,
            reason=HELD,
            before=acct,
        )

    by_email: dict[str, AccountRow] = {a.email_key: a for a in accounts if a.email_key}
    by_person: dict[int, AccountRow] = {a.person_id: a for a in accounts if a.person_id is not None}
    conflict_reasons: dict[int, list[str]] = defaultdict(list)
    for k in res.conflicts:
        if k.open:
            for p in k.person_ids:
                conflict_reasons[p].append(k.message)
    items: list[PlanItem] = []
    considered: set[int] = set()
    for c in selection.candidates:
        pid = c.person_id
        considered.add(pid)
        acct = by_person.get(pid)
        family_key = res.family_keys.get(pid, c.family_key)
        if acct is not None and acct.status == "forgotten":
            items.append(PlanItem("skip", account_id=acct.id, email=c.email,
                                  reason=FORGOTTEN_SKIP, before=acct, person_id=pid, name=c.name,
                                  family_key=family_key))
            continue
        if acct is not None and pid in held:
            items.append(keep(acct))
            continue
        if pid in res.blocked:
            items.append(
                PlanItem(
                    "conflict",
                    account_id=acct.id if acct else None,
                    email=c.email,
                    reason="; ".join(conflict_reasons.get(pid, ["waits for a decision"])),
                    before=acct,
                    person_id=pid,
                    name=c.name,
                    family_key=family_key,
                )
            )
            continue
        if pid in res.skipped:
            items.append(
                PlanItem(
                    "skip",
                    account_id=acct.id if acct else None,
                    email=c.email,
                    reason=res.skipped[pid],
                    before=acct,
                    person_id=pid,
                    name=c.name,
                    family_key=family_key,
                )
            )
            continue
        target = _target(c, res)
        if acct is None:
            holder = by_email.get(target.email_key)
            if holder is not None and holder.person_id is not None:
                holder = None  # linked to a person who moves to another email in this plan
            if holder is None:
                items.append(
                    PlanItem(
                        "add",
                        account_id=None,
                        email=target.email,
                        target=target,
                        reason="new in FACTS",
                        person_id=pid,
                    name=c.name,
                    family_key=family_key,
                    )
                )
                continue
            acct = holder
            action: Action = "link"
            reason = f"matched the existing account {holder.email} by email"
            if not holder.active:
                reason += " (restored from the archive)"
        elif not acct.active:
            action, reason = "restore", "matches the criteria again"
        else:
            action, reason = "update", ""
        changes = diff(acct, target)
        if not acct.active:
            changes += (FieldChange("status", acct.status, "active"),)
        if action == "update":
            if not changes:
                action, reason = "unchanged", ""
            else:
                reason = "changed in FACTS: " + ", ".join(ch.field for ch in changes)
        items.append(
            PlanItem(
                action,
                account_id=acct.id,
                email=target.email,
                reason=reason,
                changes=changes,
                target=target,
                before=acct,
                person_id=pid,
                name=c.name,
                family_key=family_key,
            )
        )
    archives: list[PlanItem] = []
    for a in accounts:
        if (
            a.active
            and a.origin == "sis"
            and a.person_id is not None
            and a.person_id not in considered
        ):
            left = selection.excluded.get(a.person_id)
            if a.person_id in held or (hold_unknown and left is None):
                items.append(keep(a))
                continue
            reason = left.reason if left else "no longer returned by FACTS for this site's criteria"
            archives.append(
                PlanItem(
                    "archive",
                    person_id=a.person_id,
                    account_id=a.id,
                    name=a.name,
                    email=a.email,
                    family_key=a.family_key,
                    reason=reason,
                    changes=(FieldChange("status", "active", "archived"),),
                    before=a,
                )
            )
    safety = _archive_safety(selection, accounts, len(archives), previous_enrolled,
                             threshold or ArchiveThreshold(ARCHIVE_SHARE))
    withheld: tuple[PlanItem, ...] = ()
    if safety.verdict == "refused":
        withheld, archives = tuple(archives), []
    items.extend(archives)
    by_action: dict[str, list[PlanItem]] = defaultdict(list)
    for it in items:
        by_action[it.action].append(it)
    return SyncPlan(
        kind=selection.kind,
        items=tuple(items),
        conflicts=tuple(
            replace(k, new=k.key not in seen_conflicts) for k in res.conflicts
        )
        if seen_conflicts
        else res.conflicts,
        duplicates=find_duplicates(items, accounts),
        archive=safety,
        withheld=withheld,
        matched_students=selection.matched_students,
        roster_students=selection.roster_students,
        enrolled_students=selection.enrolled_students,
        conflicts_changed={k.key for k in res.conflicts if k.open} != (seen_conflicts or set()),
        _by_action={k: tuple(v) for k, v in by_action.items()},
    )


def _archive_safety(
    selection: Selection,
    accounts: Iterable[AccountRow],
    archive_count: int,
    previous_enrolled: int | None,
    threshold: ArchiveThreshold,
) -> ArchiveSafety:
    synced = sum(1 for a in accounts if a.active and a.origin == "sis" and a.person_id is not None)
    if archive_count == 0:
        return ArchiveSafety("ok", 0, synced)
    refusals: list[str] = []
    if selection.roster_students == 0:
        refusals.append("FACTS returned no students at all, which looks like a failed fetch")
    if (
        selection.announced_students is not None
        and selection.roster_students < selection.announced_students
    ):
        refusals.append(
            f"FACTS announced {selection.announced_students} students but returned "
            f"{selection.roster_students}"
        )
    if previous_enrolled and selection.enrolled_students < previous_enrolled * SHRINK_SHARE:
        refusals.append(
            f"FACTS lists only {selection.enrolled_students} enrolled students, against "
            f"{previous_enrolled} at the last sync"
        )
    if refusals:
        return ArchiveSafety(
            "refused",
            archive_count,
            synced,
            tuple(f"no account archived: {r}" for r in refusals),
        )
    if archive_count > threshold.limit(synced):
        limit = (f"{threshold.count} accounts" if threshold.count is not None
                 else f"{threshold.text} (the site's threshold)")
        return ArchiveSafety(
            "needs-confirmation",
            archive_count,
            synced,
            (
                f"this run would archive {archive_count} of {synced} synced accounts "
                f"({archive_count / max(synced, 1):.0%}), more than {limit}: "
                "it needs a confirmation",
            ),
        )
    return ArchiveSafety("ok", archive_count, synced)


# --- duplicate suggestions ---------------------------------------------------------------


def _close(a: str, b: str) -> bool:
    """Same first name, one a prefix of the other (Jon/Jonathan), or one edit apart."""
    if a == b:
        return True
    if min(len(a), len(b)) >= 3 and (a.startswith(b) or b.startswith(a)):
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) <= 1
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def _side(item: PlanItem | None, acct: AccountRow | None) -> DuplicateSide:
    if item is not None:
        return DuplicateSide(
            account_id=item.account_id,
            person_id=item.person_id,
            name=item.name,
            email=item.email,
            family_key=item.family_key,
            new=item.action == "add",
        )
    assert acct is not None
    return DuplicateSide(
        account_id=acct.id,
        person_id=acct.person_id,
        name=acct.name,
        email=acct.email,
        family_key=acct.family_key,
        new=False,
    )


def _split(item: PlanItem) -> tuple[str, str]:
    first = name_key(item.target.first_name if item.target else item.name, "")
    last = name_key("", item.target.last_name if item.target else "")
    return first, last


def find_duplicates(
    items: Sequence[PlanItem], accounts: Sequence[AccountRow]
) -> tuple[Duplicate, ...]:
    """Likely duplicates involving a new account: same name in one family, or close names.

    Only pairs with a new account (added by this plan) are suggested, so a re-sync of an
    unchanged school suggests nothing new; comparisons are bucketed by last name.
    """
    adds = [it for it in items if it.action == "add" and it.target is not None]
    if not adds:
        return ()
    out: list[Duplicate] = []
    seen: set[tuple[str, str]] = set()

    def ident(side: DuplicateSide) -> str:
        return f"a{side.account_id}" if side.account_id is not None else f"p{side.person_id}"

    def offer(x: DuplicateSide, y: DuplicateSide, reason: str) -> None:
        first, second = sorted((ident(x), ident(y)))
        if first == second or (first, second) in seen:
            return
        seen.add((first, second))
        out.append(Duplicate(x, y, reason))

    # same family: the plan's people and the family's other active accounts
    linked_items = [it for it in items if it.target is not None]
    touched = {it.account_id for it in linked_items if it.account_id is not None}
    families: dict[str, list[tuple[str, DuplicateSide]]] = defaultdict(list)
    by_last: dict[str, list[tuple[str, DuplicateSide]]] = defaultdict(list)
    new_families = {it.family_key for it in adds}
    for it in linked_items:
        if it.action != "add" and it.family_key not in new_families:
            continue  # a family without a new account suggests nothing: skip its names
        side = _side(it, None)
        first, last = _split(it)
        if it.family_key is not None:
            families[it.family_key].append((f"{first} {last}", side))
        if side.new and last:
            by_last[last].append((first, side))
    loose: list[AccountRow] = []
    for a in accounts:
        if not a.active or a.id in touched:
            continue
        if a.family_key is not None and a.family_key in families:
            families[a.family_key].append((name_key(a.first_name, a.last_name), _side(None, a)))
        if a.person_id is None:
            loose.append(a)
    for fam, members in families.items():
        if len(members) < 2 or not any(side.new for _, side in members):
            continue
        for i, (name_a, side_a) in enumerate(members):
            for name_b, side_b in members[i + 1 :]:
                if not (side_a.new or side_b.new) or not name_a or not name_b:
                    continue
                if name_a == name_b:
                    offer(side_a, side_b, f"same name in family {fam}")
                else:
                    fa, _, la = name_a.partition(" ")
                    fb, _, lb = name_b.partition(" ")
                    if la == lb and _close(fa, fb):
                        offer(side_a, side_b, f"very similar names: {side_a.name} / {side_b.name}")
    # accounts not linked to FACTS (made by hand) against new accounts with a close name
    for a in loose:
        first = name_key(a.first_name, "")
        for first_b, side_b in by_last.get(name_key("", a.last_name), ()):
            if first and _close(first, first_b):
                offer(_side(None, a), side_b, f"very similar names: {a.name} / {side_b.name}")
    return tuple(out)
