"""The sync facade the CLI and the wizard call; everything else in ``core.sync`` is internal.

Functions for the wizard (all take the open ``Store`` and a site name or ``Site``; blocking ones
run in a thread worker, ``fetch``/``sync`` are async):

- setup: ``load_setup``, ``save_setup`` (kind, criteria, parent preset), ``set_override``
  (per-family include/exclude of a parent, or a whole family), ``group_families``.
- fetch and review: ``fetch`` (Roster; ``on_progress`` gets FetchProgress), ``review_model``
  (``core.sync.review.ReviewModel``: families, parent slots, totals, search, built once per read)
  and ``save_review_change`` (persists one of its changes).
- plan: ``make_plan`` -> SyncPlan: ``plan.counts()`` (added, linked = merged by email, updated,
  archived, restored, unchanged, skipped, conflicts = left to decide); ``plan.of(action)`` the
  rows behind a count, each with ``reason`` and field ``changes``; ``plan.conflicts`` (flag
  red/orange/gray, ``choices``, ``new``), ``plan.open_conflicts``; ``plan.duplicates`` (offer
  ``core.accounts.merge_accounts``); ``plan.archive`` (verdict ok / needs-confirmation /
  refused, ``reasons``, ``archive_count``) and ``plan.withheld`` (archives refused);
  ``plan.unreadable`` (FACTS records left out, each an ``Unreadable`` with resource, key, field,
  problem), ``plan.held`` (accounts kept as they are because their record was unreadable, reason
  ``HELD``), ``plan.stop`` (too many unreadable rows: ``apply_plan`` raises ``UnreadableStop``);
  ``write_error_report(plan, path)`` writes the *Export error report* CSV.
- decisions: ``decide_choice`` (one of ``conflict.options``), ``decide_bulk`` (one of
  ``bulk.bulk_decisions``), ``undo_decision`` (the latest of either); ``decide`` by arguments
  (the CLI's flags). Then plan again.
- apply: ``apply_plan`` (raises ``ArchiveConfirmationNeeded`` unless ``confirm_archive``, and
  ``StalePlan`` when accounts changed since the plan); one step: ``sync``.
- after: ``history``, ``changes_of`` (one run's journal), ``undo``; accounts live in
  ``core.accounts`` (``list_accounts``, ``add_account``, ``merge_accounts``, ``pending_invites``,
  ``invites_csv``, ``mark_invited``).

``fetch``, ``review_model``, ``make_plan`` and ``apply_plan`` build long-lived values with the
garbage collector paused, and leave them out of its later passes (``core.gc_pause``): its full
passes over the fetched roster were a third of plan time, and 0.6 s on a key press after it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import httpx

from core.gc_pause import long_lived
from core.roster import Roster
from core.sites import SiteError, get_site, require_advanced
from core.sync.apply import (
    ArchiveConfirmationNeeded,
    StalePlan,
    SyncError,
    newest_run_id,
    undo_latest,
)
from core.sync.apply import (
    apply_plan as _apply,
)
from core.sync.bulk import BulkDecision
from core.sync.conflicts import ConflictChoice
from core.sync.journal import fk, load_account_rows
from core.sync.plan import SyncPlan
from core.sync.plan import make_plan as _plan
from core.sync.report import write_error_report
from core.sync.review import Change, ReviewModel
from core.sync.selection import Selection
from core.sync.setup import (
    KINDS,
    PRESETS,
    Criteria,
    Decision,
    ParentRules,
    SetupDoc,
    dump_setup,
    email_key,
    parse_setup,
)
from store import Store
from store.models import Site, SyncChange, SyncRun, SyncSetup, utcnow

__all__ = [
    "ArchiveConfirmationNeeded",
    "NoSetup",
    "RunSummary",
    "StalePlan",
    "SyncError",
    "SyncResult",
    "UnreadableStop",
    "apply_plan",
    "decide",
    "decide_bulk",
    "decide_choice",
    "fetch",
    "group_families",
    "history",
    "load_setup",
    "make_plan",
    "review_model",
    "save_review_change",
    "save_setup",
    "set_override",
    "sync",
    "undo",
    "write_error_report",
    "undo_decision",
]


class NoSetup(SiteError):
    def __init__(self, site: str) -> None:
        super().__init__(
            f"site {site!r} has no sync setup yet: choose whether it rosters students or parents"
        )


def _site(store: Store, site: Site | str) -> Site:
    """The site as stored now (a Site object held by a screen may predate the first sync)."""
    return get_site(store, site if isinstance(site, str) else site.name)


# --- setup ------------------------------------------------------------------------------------


def load_setup(store: Store, site: Site | str) -> SetupDoc | None:
    row: SyncSetup | None = SyncSetup.get_or_none(SyncSetup.site == _site(store, site))
    return parse_setup(row.document) if row else None


def require_setup(store: Store, site: Site | str) -> SetupDoc:
    s = _site(store, site)
    doc = load_setup(store, s)
    if doc is None:
        raise NoSetup(s.name)
    return doc


def _store_setup(site: Site, doc: SetupDoc) -> SetupDoc:
    db = Site._meta.database
    with db.atomic():
        row: SyncSetup | None = SyncSetup.get_or_none(SyncSetup.site == site)
        if row is None:
            SyncSetup.create(site=site, document=dump_setup(doc), version=1)
        else:
            row.document = dump_setup(doc)
            row.version += 1
            row.updated_at = utcnow()
            row.save()
    return doc


def save_setup(
    store: Store,
    site: Site | str,
    *,
    kind: str | None = None,
    schools: list[str] | None = None,
    statuses: list[str] | None = None,
    grades: list[str] | None = None,
    parents_preset: str | None = None,
    relationships: list[str] | None = None,
) -> SetupDoc:
    """Create or change the setup; arguments left None keep their saved value.

    The roster kind is fixed once the site has synced: a school wanting both kinds adds a site.
    """
    s = _site(store, site)
    require_advanced(s)
    current = load_setup(store, s)
    if kind is None:
        if current is None:
            raise SiteError("the first setup of a site needs its kind: students or parents")
        kind = current.kind
    if kind not in KINDS:
        raise SiteError(f"unknown kind {kind!r}: choose students or parents")
    if s.kind and s.kind != kind:
        raise SiteError(
            f"site {s.name!r} rosters {s.kind} since its first sync; add a second site for {kind}"
        )
    if parents_preset is not None and parents_preset not in PRESETS:
        raise SiteError(f"unknown parent preset {parents_preset!r}: choose {', '.join(PRESETS)}")
    base = current or SetupDoc(kind=kind)
    crit = base.criteria
    criteria = Criteria(
        schools=tuple(schools) if schools is not None else crit.schools,
        statuses=tuple(statuses) if statuses else crit.statuses,
        grades=tuple(grades) if grades is not None else crit.grades,
    )
    rules = base.parents
    parents = ParentRules.model_validate(
        {
            "preset": parents_preset or rules.preset,
            "relationships": relationships if relationships is not None else rules.relationships,
            "overrides": rules.overrides,
        }
    )
    doc = base.model_copy(update={"kind": kind, "criteria": criteria, "parents": parents})
    return _store_setup(s, SetupDoc.model_validate(doc.model_dump()))


def decide(
    store: Store,
    site: Site | str,
    *,
    email: str | None = None,
    person_id: int | None = None,
    skip: bool = False,
    use_email2: bool = False,
    family_id: int | None = None,
) -> Decision:
    """Save a conflict decision (reused by every later sync).

    email + person: that person gets the email. email + skip / use_email2: for everyone with the
    email. person + skip / use_email2: for that person (missing or invalid emails). person alone
    (optionally family_id): accept a person who is in several families.
    """
    s = _site(store, site)
    doc = require_setup(store, s)
    if skip and use_email2:
        raise SiteError("a decision either skips or uses the second email, not both")
    if email is not None and not email_key(email):
        raise SiteError("the email of the decision is blank")
    if skip or use_email2:
        action = "skip" if skip else "use-email2"
        if email is None and person_id is None:
            raise SiteError("say whose email: an email, or a FACTS person")
        decision = Decision(
            action=action,
            email=email,
            person_id=None if email is not None else person_id,
        )
    elif email is not None and person_id is not None:
        decision = Decision(action="assign", email=email, person_id=person_id)
    elif person_id is not None:
        decision = Decision(action="accept", person_id=person_id, family_id=family_id)
    else:
        raise SiteError("a decision needs a person to give the email to, a skip or the second email")
    _store_setup(s, doc.with_decisions([decision], decision_label(decision)))
    return decision


def decision_label(d: Decision) -> str:
    """A saved decision in words, for "Undo: ..." and History."""
    about = f"email {d.email}" if d.email else f"person {d.person_id}"
    what = {"assign": f"gave {d.email} to person {d.person_id}", "skip": f"skipped {about}",
            "use-email2": f"second email for {about}",
            "accept": f"accepted person {d.person_id}"}
    return what[d.action]


def decide_choice(store: Store, site: Site | str, choice: ConflictChoice) -> Decision:
    """Save one of a conflict's typed choices (``Conflict.options``)."""
    s = _site(store, site)
    doc = require_setup(store, s)
    decision = choice.decision()
    _store_setup(s, doc.with_decisions([decision], decision_label(decision)))
    return decision


def decide_bulk(store: Store, site: Site | str, bulk: BulkDecision) -> int:
    """Save a decision by kind as one step (one undo takes it back); returns how many."""
    s = _site(store, site)
    doc = require_setup(store, s)
    if bulk.decisions:
        _store_setup(s, doc.with_decisions(list(bulk.decisions), bulk.summary()))
    return bulk.count


def undo_decision(store: Store, site: Site | str) -> str | None:
    """Take back the latest decision (single or by kind); returns what it was, None if none."""
    s = _site(store, site)
    doc, label = require_setup(store, s).undo_decisions()
    if label is not None:
        _store_setup(s, doc)
    return label


def group_families(store: Store, site: Site | str, family_ids: list[int]) -> SetupDoc:
    s = _site(store, site)
    doc = require_setup(store, s)
    try:
        return _store_setup(s, doc.with_group(family_ids))
    except ValueError as err:
        raise SiteError(str(err)) from None


def set_override(
    store: Store,
    site: Site | str,
    family_id: int,
    person_id: int | None,
    include: bool | None,
) -> SetupDoc:
    """Include/exclude one parent of a family (person None: the whole family); None clears."""
    s = _site(store, site)
    doc = require_setup(store, s)
    return _store_setup(s, doc.with_override(family_id, person_id, include))


# --- fetch, review, plan, apply -----------------------------------------------------------


async def fetch(
    store: Store,
    site: Site | str,
    on_progress: Callable[[Any], None] | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Roster:
    """Read the roster the site's setup needs from FACTS (raises FactsError on failure)."""
    from core.connection import open_client
    from core.facts.fetch import fetch_roster

    s = _site(store, site)
    require_advanced(s)
    doc = require_setup(store, s)
    client = open_client(store, s, transport=transport)
    with long_lived():
        async with client:
            return await fetch_roster(client, doc.kind, on_progress=on_progress)


@long_lived()
def review_model(
    store: Store, site: Site | str, roster: Roster, selection: Selection | None = None
) -> ReviewModel:
    """The review of ``roster`` under the saved setup; ``selection`` when one was just made
    for exactly that setup (the criteria count's), so it is not made twice."""
    return ReviewModel(roster, require_setup(store, site), selection)


def save_review_change(store: Store, site: Site | str, change: Change) -> SetupDoc:
    """Persist one change the review model handed out (a preset, a parent, a family)."""
    if change.what == "preset":
        return save_setup(store, site, parents_preset=change.preset)
    assert change.family_id is not None
    person = change.person_id if change.what == "slot" else None
    return set_override(store, site, change.family_id, person, change.include)


def _last_syncs(site: Site) -> tuple[int | None, frozenset[str] | None]:
    """From the recorded syncs: enrolled students at the last one that trusted its roster
    (withheld no archives), and the conflicts open at the last one."""
    enrolled: int | None = None
    seen: frozenset[str] | None = None
    for run in (
        SyncRun.select()
        .where((SyncRun.site == site) & (SyncRun.kind == "sync") & SyncRun.undone_at.is_null())
        .order_by(SyncRun.id.desc())
        .limit(20)
    ):
        counts = json.loads(run.counts or "{}")
        if seen is None:
            seen = frozenset(counts.get("open_conflicts") or ())
        if not counts.get("withheld_archives"):
            value = counts.get("enrolled_students")
            enrolled = int(value) if value else None
            break
    return enrolled, seen


@long_lived()
def make_plan(
    store: Store, site: Site | str, roster: Roster, review: ReviewModel | None = None
) -> SyncPlan:
    """The pure plan from the saved setup, the site's accounts and this roster.

    ``review``: the review model of this roster; when its setup is the saved one, the planner
    takes its selection instead of selecting again.
    """
    s = _site(store, site)
    doc = require_setup(store, s)
    if s.kind and s.kind != doc.kind:
        raise SiteError(f"site {s.name!r} rosters {s.kind}, but its setup says {doc.kind}")
    enrolled, seen = _last_syncs(s)
    newest = newest_run_id(s)  # before the accounts: a run in between makes the plan stale
    selection = None
    if review is not None and _same_selection_rules(review.setup, doc):
        selection = review.selection()
    plan = _plan(
        doc, roster, load_account_rows(s), previous_enrolled=enrolled, seen_conflicts=seen,
        selection=selection,
    )
    return replace(plan, seen_run=newest)


def _same_selection_rules(a: SetupDoc, b: SetupDoc) -> bool:
    return (a.kind, a.criteria, a.parents, a.family_groups) == (
        b.kind, b.criteria, b.parents, b.family_groups)


class UnreadableStop(SyncError):
    """Too many FACTS records of one table are unreadable: nothing is applied."""

    def __init__(self, plan: SyncPlan) -> None:
        self.plan = plan
        super().__init__(plan.stop or "too many FACTS records cannot be read")


@long_lived()
def apply_plan(
    store: Store, site: Site | str, plan: SyncPlan, confirm_archive: bool = False
) -> SyncRun:
    """Write the plan (raises UnreadableStop when its roster had too many unreadable rows)."""
    s = _site(store, site)
    require_advanced(s)
    if plan.stop:
        raise UnreadableStop(plan)
    return _apply(s, plan, confirm_archive=confirm_archive)


@dataclass(frozen=True)
class SyncResult:
    plan: SyncPlan
    run: SyncRun | None
    """None for a dry run, or when the plan had nothing to write."""
    fetch_requests: int = 0

    def to_json(self) -> dict[str, Any]:
        """The ``factsync sync --json`` contract."""
        return {
            "run": self.run.number if self.run is not None else None,
            "runId": self.run.id if self.run is not None else None,
            "counts": self.plan.counts(),
            "enrolledStudents": self.plan.enrolled_students,
            "conflicts": [conflict_json(c) for c in self.plan.open_conflicts],
            "duplicates": [d.to_json() for d in self.plan.duplicates],
            "unreadable": [u.to_json() for u in self.plan.unreadable],
        }


def conflict_json(c: Any) -> dict[str, Any]:
    return {
        "key": c.key,
        "kind": c.kind,
        "flag": c.flag,
        "email": c.email,
        "message": c.message,
        "choices": list(c.choices),
        "people": [
            {
                "personId": p.person_id,
                "name": p.name,
                "familyIds": list(p.family_ids),
                "listedFirst": p.listed_first,
                "email": p.email,
                "email2": p.email2,
            }
            for p in c.people
        ],
        "decision": c.decision,
        "new": c.new,
    }


async def sync(
    store: Store,
    site_name: Site | str,
    *,
    dry_run: bool = False,
    confirm_archive: bool = False,
    on_progress: Callable[[Any], None] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> SyncResult:
    """Fetch, plan and apply with the saved setup. Conflicted people wait; the rest syncs.

    Raises ArchiveConfirmationNeeded (nothing written) when the archive share needs confirming,
    and UnreadableStop (even for a dry run) when too many FACTS records cannot be read.
    A plan with nothing to write and the same open conflicts as the last recorded sync records
    no run (``run`` None): an unchanged school writes 0 rows. New conflicts alone are recorded,
    so the next sync marks only newer ones ``new``.
    """
    s = _site(store, site_name)
    require_advanced(s)
    require_setup(store, s)
    roster = await fetch(store, s, on_progress, transport=transport)
    plan = make_plan(store, s, roster)
    if plan.stop:
        raise UnreadableStop(plan)
    if dry_run:
        return SyncResult(plan, None, roster.requests)
    if plan.writes == 0 and not plan.conflicts_changed:
        return SyncResult(plan, None, roster.requests)  # an unchanged school changes zero rows
    run = apply_plan(store, s, plan, confirm_archive=confirm_archive)
    return SyncResult(plan, run, roster.requests)


# --- history and undo -------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSummary:
    id: int
    number: int
    """The run's number within its site: what "run N" means on screen and on the CLI."""
    kind: str
    started_at: datetime
    finished_at: datetime | None
    undone_at: datetime | None
    counts: dict[str, Any]
    changes: int

    def to_json(self) -> dict[str, Any]:
        return {
            "run": self.number,
            "runId": self.id,
            "kind": self.kind,
            "startedAt": self.started_at.isoformat(),
            "finishedAt": self.finished_at.isoformat() if self.finished_at else None,
            "undoneAt": self.undone_at.isoformat() if self.undone_at else None,
            "counts": self.counts,
            "changes": self.changes,
        }


def history(store: Store, site: Site | str, limit: int = 50) -> list[RunSummary]:
    import peewee as pw

    s = _site(store, site)
    counts = {
        fk(c, "run"): int(getattr(c, "n", 0))
        for c in SyncChange.select(SyncChange.run, pw.fn.COUNT(SyncChange.id).alias("n"))
        .join(SyncRun)
        .where(SyncRun.site == s)
        .group_by(SyncChange.run)
    }
    return [
        RunSummary(
            id=r.id,
            number=r.number or r.id,
            kind=r.kind,
            started_at=r.started_at,
            finished_at=r.finished_at,
            undone_at=r.undone_at,
            counts=json.loads(r.counts or "{}"),
            changes=counts.get(r.id, 0),
        )
        for r in SyncRun.select()
        .where(SyncRun.site == s)
        .order_by(SyncRun.id.desc())
        .limit(limit)
    ]


def run_id_of(store: Store, site: Site | str, number: int) -> int | None:
    """The store id of the site's run number ``number`` (None when it has no such run)."""
    run: SyncRun | None = SyncRun.get_or_none(
        (SyncRun.site == _site(store, site)) & (SyncRun.number == number)
    )
    return run.id if run is not None else None


def changes_of(store: Store, run_id: int) -> list[dict[str, Any]]:
    """The journal of one run: action, account, reason, before and after (JSON objects)."""
    return [
        {
            "action": c.action,
            "accountId": fk(c, "account"),
            "reason": c.reason,
            "before": json.loads(c.before) if c.before else None,
            "after": json.loads(c.after) if c.after else None,
        }
        for c in SyncChange.select().where(SyncChange.run == run_id).order_by(SyncChange.id)
    ]


def undo(store: Store, site: Site | str) -> SyncRun:
    """Revert the latest sync or merge of the site."""
    return undo_latest(_site(store, site))
