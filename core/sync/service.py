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

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import httpx

from core import events
from core.actor import describe
from core.gc_pause import long_lived
from core.roster import Roster
from core.sites import SiteError, get_site, require_advanced
from core.sync.apply import (
    ArchiveConfirmationNeeded,
    SiteBusy,
    StalePlan,
    SyncError,
    newest_run_id,
    site_transaction,
    undo_latest,
)
from core.sync.apply import (
    apply_plan as _apply,
)
from core.sync.bulk import BulkDecision
from core.sync.conflicts import ConflictChoice
from core.sync.holds import HoldView
from core.sync.journal import as_tuples, fk, load_account_rows
from core.sync.plan import PlanItem, SyncPlan
from core.sync.plan import make_plan as _plan
from core.sync.report import write_error_report
from core.sync.review import Change, ReviewModel
from core.sync.selection import Selection
from core.sync.setup import (
    KINDS,
    PRESETS,
    Criteria,
    Decision,
    DecisionUndo,
    ParentRules,
    SetupDoc,
    dump_setup,
    email_key,
    parse_setup,
    setup_changes,
)
from store import Store
from store.models import Site, SyncChange, SyncRun, SyncSetup, utcnow

__all__ = [
    "ArchiveConfirmationNeeded",
    "NoSetup",
    "RunSummary",
    "SiteBusy",
    "SitePaused",
    "StalePlan",
    "SyncError",
    "SyncResult",
    "UnreadableStop",
    "apply_plan",
    "apply_with_holds",
    "approve_hold",
    "holds",
    "reject_hold",
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
    "undo_preview",
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


def _store_setup(store: Store, site: Site, doc: SetupDoc, action: str, summary: str) -> SetupDoc:
    """Save the setup document and the event of the change (``action``, ``summary`` in words),
    together; a document saved unchanged records no event."""
    with store.db.atomic():
        row: SyncSetup | None = SyncSetup.get_or_none(SyncSetup.site == site)
        text = dump_setup(doc)
        if row is None:
            SyncSetup.create(site=site, document=text, version=1)
        elif row.document != text:
            row.document = text
            row.version += 1
            row.updated_at = utcnow()
            row.save()
        else:
            return doc
        events.record(store, site, action, summary)
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
    new = SetupDoc.model_validate(doc.model_dump())
    return _store_setup(store, s, new, "setup",
                        "setup: " + ("; ".join(setup_changes(current, new)) or "saved"))


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
    label = decision_label(decision)
    _store_setup(store, s, doc.with_decisions([decision], label), "decision", label)
    return decision


def check_in_roster(roster: Roster, *, email: str | None, person_id: int | None) -> None:
    """A decision is about someone FACTS has: refuse one for an email or person it does not."""
    if person_id is not None and person_id not in roster.people:
        raise SiteError(f"person {person_id} is not in the FACTS roster of this site: check the "
                        "personId (factsync conflicts SITE lists who waits)")
    key = email_key(email)
    if key is not None and not any(
        key in (email_key(p.email), email_key(p.email2)) for p in roster.people.values()
    ):
        raise SiteError(f"no one in the FACTS roster of this site has the email {email!r}: "
                        "check its spelling (factsync conflicts SITE lists who waits)")


def decisions(store: Store, site: Site | str) -> list[Decision]:
    """The saved decisions, oldest first."""
    doc = require_setup(store, site)
    return list(doc.decisions)


def clear_decision(
    store: Store, site: Site | str, *, email: str | None = None, person_id: int | None = None
) -> list[Decision]:
    """Remove the saved decisions about an email or a person; returns those removed."""
    s = _site(store, site)
    doc = require_setup(store, s)
    key = email_key(email)
    gone = [d for d in doc.decisions
            if (key is not None and d.email == key)
            or (person_id is not None and d.person_id == person_id)]
    if not gone:
        about = f"email {email}" if email else f"person {person_id}"
        raise SiteError(f"site {s.name!r} has no saved decision about {about} (factsync "
                        "decisions SITE lists them)")
    kept = tuple(d for d in doc.decisions if d not in gone)
    undo = DecisionUndo(label="cleared " + ", ".join(decision_label(d) for d in gone),
                        targets=tuple(dict.fromkeys(d.target for d in gone)), previous=tuple(gone))
    _store_setup(store, s, doc.model_copy(update={
        "decisions": kept, "decision_undo": (*doc.decision_undo, undo)[-20:]}), "decision",
        undo.label)
    return gone


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
    label = decision_label(decision)
    _store_setup(store, s, doc.with_decisions([decision], label), "decision", label)
    return decision


def decide_bulk(store: Store, site: Site | str, bulk: BulkDecision) -> int:
    """Save a decision by kind as one step (one undo takes it back); returns how many."""
    s = _site(store, site)
    doc = require_setup(store, s)
    if bulk.decisions:
        _store_setup(store, s, doc.with_decisions(list(bulk.decisions), bulk.summary()),
                     "decision", bulk.summary())
    return bulk.count


def undo_decision(store: Store, site: Site | str) -> str | None:
    """Take back the latest decision (single or by kind); returns what it was, None if none."""
    s = _site(store, site)
    doc, label = require_setup(store, s).undo_decisions()
    if label is not None:
        _store_setup(store, s, doc, "decision", f"took back: {label}")
    return label


def group_families(store: Store, site: Site | str, family_ids: list[int]) -> SetupDoc:
    s = _site(store, site)
    doc = require_setup(store, s)
    try:
        grouped = doc.with_group(family_ids)
    except ValueError as err:
        raise SiteError(str(err)) from None
    group = next((g for g in grouped.family_groups if set(family_ids) <= set(g)), ())
    return _store_setup(store, s, grouped, "family-group",
                        "families " + ", ".join(map(str, group)) + " grouped as one household")


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
    who = f"family {family_id}" + (f", parent {person_id}" if person_id is not None else "")
    what = {True: "included", False: "excluded", None: "back to the preset"}[include]
    return _store_setup(store, s, doc.with_override(family_id, person_id, include), "setup",
                        f"{who}: {what}")


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
    with long_lived(makes_garbage=True):  # closed connections are reference cycles
        async with open_client(store, s, transport=transport) as client:
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
    from core.site_settings import settings

    plan = _plan(
        doc, roster, load_account_rows(s), previous_enrolled=enrolled, seen_conflicts=seen,
        selection=selection, threshold=settings(s).threshold,
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


def sync_lease_name(site: Site) -> str:
    return f"sync:{site.id}"


@contextlib.contextmanager
def sync_lease(site: Site) -> Iterator[None]:
    """One sync of a site at a time, across processes and hosts sharing the store."""
    from store.db import is_busy
    from store.leases import LeaseHeld, leased

    try:
        with leased(sync_lease_name(site), f"site {site.name!r} is being synced"):
            yield
    except LeaseHeld as err:
        raise SiteBusy(str(err)) from None
    except Exception as err:
        if is_busy(err):  # another process holds the store's write lock
            raise SiteBusy.locked(site.name) from None
        raise


def require_not_paused(site: Site) -> None:
    from core.site_settings import settings

    pause = settings(site).pause
    if pause is not None:
        raise SitePaused(site.name, pause)


class SitePaused(SyncError):
    """Sync and archive are paused for the site (write-back goes on)."""

    def __init__(self, site: str, pause: Any) -> None:
        self.pause = pause
        super().__init__(f"site {site!r} is {pause.words()}; sync and archive wait, write-back "
                         "goes on")


def _setup_text(site: Site) -> str | None:
    row: SyncSetup | None = SyncSetup.get_or_none(SyncSetup.site == site)
    return row.document if row is not None else None


def run_words(run: SyncRun) -> str:
    """A run in words for its event: ``sync run 3: added 2, archived 1``."""
    counts = json.loads(run.counts or "{}")
    if run.kind == "undo":
        return f"undo run {run.number}: reverted run {counts.get('undid')}"
    done = ", ".join(f"{k} {v}" for k, v in counts.items()
                     if isinstance(v, int) and not isinstance(v, bool) and v
                     and k in RUN_COUNT_KEYS)
    return f"{run.kind} run {run.number}: {done or 'no account changes'}"


RUN_COUNT_KEYS = ("added", "linked", "updated", "archived", "restored", "skipped", "conflicts",
                  "entries_moved")


@long_lived()
def apply_plan(
    store: Store, site: Site | str, plan: SyncPlan, confirm_archive: bool = False
) -> SyncRun:
    """Write the plan (raises UnreadableStop when its roster had too many unreadable rows)."""
    s = _site(store, site)
    require_advanced(s)
    require_not_paused(s)
    if plan.stop:
        raise UnreadableStop(plan)
    with sync_lease(s), site_transaction(s):  # BEGIN IMMEDIATE: the run and its event
        run = _apply(s, plan, confirm_archive=confirm_archive, setup=_setup_text(s))
        events.record(store, s, "sync", run_words(run), run=run)
        return run


@dataclass(frozen=True)
class SyncResult:
    plan: SyncPlan
    run: SyncRun | None
    """None for a dry run, or when the plan had nothing to write."""
    fetch_requests: int = 0
    hold: HoldView | None = None
    """The hold the held part of the plan is saved as (None: nothing held)."""
    hold_new: bool = False
    """The hold was made by this run (not one already open, nor a rejected one)."""
    held: tuple[PlanItem, ...] = ()
    """The archives that wait for a person (a dry run lists them without saving a hold)."""
    held_reason: str | None = None

    @property
    def new_conflicts(self) -> tuple[Any, ...]:
        """Open conflicts that were not open at the last sync."""
        return tuple(c for c in self.plan.open_conflicts if c.new)

    def attention(self) -> list[str]:
        """What new waits for a person (empty: nothing; the run exits 0)."""
        out: list[str] = []
        if self.new_conflicts:
            n = len(self.new_conflicts)
            out.append(f"{n} new conflict{'s' if n != 1 else ''} wait{'s' if n == 1 else ''} "
                       "for a decision")
        if self.held and (self.hold is None or self.hold_new):
            what = f"hold {self.hold.id}: " if self.hold is not None else ""
            out.append(f"{what}{len(self.held)} archive{'s' if len(self.held) != 1 else ''} "
                       f"wait for a confirmation ({self.held_reason})")
        return out

    def to_json(self) -> dict[str, Any]:
        """The ``factsync sync --json`` contract."""
        return {
            "run": self.run.number if self.run is not None else None,
            "runId": self.run.id if self.run is not None else None,
            "counts": self.plan.counts(),
            "enrolledStudents": self.plan.enrolled_students,
            "conflicts": [conflict_json(c) for c in self.plan.open_conflicts],
            "newConflicts": len(self.new_conflicts),
            "duplicates": [d.to_json() for d in self.plan.duplicates],
            "unreadable": [u.to_json() for u in self.plan.unreadable],
            "hold": self.hold.to_json() if self.hold is not None else None,
            "held": [HeldRowJson.of(it) for it in self.held],
            "attention": self.attention(),
        }


class HeldRowJson:
    @staticmethod
    def of(it: PlanItem) -> dict[str, Any]:
        return {"accountId": it.account_id, "personId": it.person_id, "name": it.name,
                "email": it.email, "familyKey": it.family_key, "reason": it.reason}


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

    Archives over the site's threshold (unless ``confirm_archive``) and archives withheld after an
    empty, short or halved roster are held (``core.sync.holds``): the rest is applied and the
    result names the hold. Raises UnreadableStop (even for a dry run) when too many FACTS records
    cannot be read, SitePaused when the site is paused, SiteBusy when another process syncs it.
    A plan with nothing to write and the same open conflicts as the last recorded sync records
    no run (``run`` None): an unchanged school writes 0 rows. New conflicts alone are recorded,
    so the next sync marks only newer ones ``new``.
    """
    s = _site(store, site_name)
    require_advanced(s)
    require_setup(store, s)
    require_not_paused(s)
    if dry_run:
        return await _sync(store, s, True, confirm_archive, on_progress, transport)
    with sync_lease(s):
        return await _sync(store, s, False, confirm_archive, on_progress, transport)


async def _sync(
    store: Store,
    s: Site,
    dry_run: bool,
    confirm_archive: bool,
    on_progress: Callable[[Any], None] | None,
    transport: httpx.AsyncBaseTransport | None,
) -> SyncResult:
    from core.sync.holds import split_held

    roster = await fetch(store, s, on_progress, transport=transport)
    plan = make_plan(store, s, roster)
    if plan.stop:
        raise UnreadableStop(plan)
    split = split_held(plan, confirmed=confirm_archive)
    if dry_run:
        return SyncResult(plan, None, roster.requests, held=split.held,
                          held_reason=split.reason)
    return apply_with_holds(store, s, plan, confirm_archive=confirm_archive,
                            requests=roster.requests)


@long_lived()
def apply_with_holds(store: Store, site: Site | str, plan: SyncPlan, *,
                     confirm_archive: bool = False, requests: int = 0) -> SyncResult:
    """Apply the plan, except the archives that wait for a person: those become a hold (the
    CLI's sync, the daemon and the wizard all apply this way)."""
    from core.sync.holds import record_hold, split_held, supersede_holds

    s = _site(store, site)
    require_advanced(s)
    require_not_paused(s)
    if plan.stop:
        raise UnreadableStop(plan)
    split = split_held(plan, confirmed=confirm_archive)
    applied = split.apply
    run: SyncRun | None = None
    hold: HoldView | None = None
    new = False
    with sync_lease(s), store.db.atomic():
        if applied.writes or plan.conflicts_changed:  # an unchanged school changes zero rows
            run = _apply(s, applied, confirm_archive=confirm_archive, setup=_setup_text(s))
            events.record(store, s, "sync", run_words(run), run=run)
        if split.held:
            hold, new = record_hold(s, split.held, split.reason or "")
        else:
            supersede_holds(s)  # what they held was applied, or no longer applies
    return SyncResult(plan, run, requests, hold=hold, hold_new=new, held=split.held,
                      held_reason=split.reason)


# --- holds ------------------------------------------------------------------------------------


def holds(store: Store, site: Site | str, *, all_states: bool = False) -> list[HoldView]:
    from core.sync.holds import list_holds

    return list_holds(_site(store, site), state=None if all_states else "open")


async def approve_hold(
    store: Store,
    site: Site | str,
    hold_id: int,
    *,
    by: str,
    roster: Roster | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> SyncRun:
    """Apply a hold's archives, planned again against the roster as it is now (read from FACTS
    unless ``roster`` is given); refused with the reason when they no longer apply."""
    from core.sync.holds import HoldError, archive_only, require_open, resolve, still_applies

    s = _site(store, site)
    require_advanced(s)
    require_not_paused(s)
    hold = require_open(s, hold_id)
    if roster is None:
        roster = await fetch(store, s, transport=transport)
    with sync_lease(s):
        plan = make_plan(store, s, roster)
        if plan.stop:
            raise UnreadableStop(plan)
        items, gone = still_applies(hold, plan)
        if gone:
            first = "; ".join(gone[:3]) + (f" and {len(gone) - 3} more" if len(gone) > 3 else "")
            raise HoldError(
                f"hold {hold_id} no longer applies: the roster changed since it was made "
                f"({first}). Nothing was archived; sync again to plan with the roster as it is"
            )
        with store.db.atomic():
            run = _apply(s, archive_only(plan, items), confirm_archive=True,
                         extra_counts={"hold": hold_id}, setup=_setup_text(s))
            resolve(s, hold_id, "approved", by, run.number)
            events.record(store, s, "hold-approve",
                          f"approved hold {hold_id}: run {run.number} archived {len(items)}",
                          run=run)
    return run


def reject_hold(store: Store, site: Site | str, hold_id: int, *, by: str) -> HoldView:
    """Drop a hold: its archives are not made, and not held again while they stay the same."""
    from core.sync.holds import get_hold, require_open, resolve

    s = _site(store, site)
    held = require_open(s, hold_id)
    with store.db.atomic():
        resolve(s, hold_id, "rejected", by)
        events.record(store, s, "hold-reject",
                      f"rejected hold {hold_id}: {len(held.rows)} archives not made")
    return get_hold(s, hold_id)


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
    actor: str | None = None
    """Who ran it (None: a run recorded before actors were)."""
    via: str | None = None
    """``os`` or ``serve`` (``core.actor``)."""
    host: str | None = None

    @property
    def by(self) -> str:
        """The actor in words (``alice@host``, ``bob (browser login)``, ``unknown``)."""
        return describe(self.actor, self.via, self.host)

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
            "actor": self.actor,
            "via": self.via,
            "host": self.host,
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
    runs = list(SyncRun.select().where(SyncRun.site == s).order_by(SyncRun.id.desc())
                .limit(limit))
    actors = events.run_actors(store, [r.id for r in runs])
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
            actor=actors.get(r.id, (None, None, None))[0],
            via=actors.get(r.id, (None, None, None))[1],
            host=actors.get(r.id, (None, None, None))[2],
        )
        for r in runs
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


@dataclass(frozen=True)
class UndoPreview:
    """What ``undo`` would revert, in words, before it does."""

    number: int
    kind: str
    started_at: datetime
    parts: tuple[str, ...]
    """e.g. "376 added → removed", "12 linked → unlinked"."""
    setup_changes: tuple[str, ...] = ()
    """How the run's setup differs from the one before it (criteria, preset): undo offers to
    restore that one too, so the next sync does not archive the same people again."""

    def words(self) -> str:
        local = self.started_at.replace(tzinfo=UTC).astimezone()
        what = ", ".join(self.parts) or "no account changes"
        return f"revert {self.kind} run {self.number} of {local:%Y-%m-%d %H:%M}: {what}"

    def to_json(self) -> dict[str, Any]:
        return {"run": self.number, "kind": self.kind, "startedAt": self.started_at.isoformat(),
                "changes": list(self.parts), "setupChanges": list(self.setup_changes)}


_UNDO_WORDS = {
    "link": "linked → unlinked",
    "update": "updated → changed back",
    "archive": "archived → restored",
    "restore": "restored → archived again",
    "merge": "merged → split again",
}


def undo_preview(store: Store, site: Site | str) -> UndoPreview:
    """The run ``undo`` would revert and what reverting it does (raises when there is none)."""
    import peewee as pw

    from core.sync.apply import latest_run
    from store.models import HourEntry

    s = _site(store, site)
    run = latest_run(s)
    if run is None:
        raise SyncError(f"site {s.name!r} has no run to undo")
    counts = {
        str(action): int(n)
        for action, n in as_tuples(SyncChange.select(SyncChange.action, pw.fn.COUNT(SyncChange.id))
                                   .where(SyncChange.run == run).group_by(SyncChange.action))
    }
    parts: list[str] = []
    added = counts.pop("add", 0)
    if added:
        kept = (HourEntry.select(HourEntry.account).distinct()
                .join(SyncChange, on=(SyncChange.account == HourEntry.account))
                .where((SyncChange.run == run) & (SyncChange.action == "add")).count())
        if added - kept:
            parts.append(f"{added - kept} added → removed")
        if kept:
            parts.append(f"{kept} added → archived (they have hours)")
    parts += [f"{counts[a]} {w}" for a, w in _UNDO_WORDS.items() if counts.get(a)]
    return UndoPreview(run.number or run.id, run.kind, run.started_at, tuple(parts),
                       tuple(_setup_changes(s, run)))


def _setup_before(site: Site, run: SyncRun) -> SetupDoc | None:
    """The setup of the site's sync before ``run`` (None when unknown)."""
    prior: SyncRun | None = (
        SyncRun.select()
        .where((SyncRun.site == site) & (SyncRun.kind == "sync") & (SyncRun.id < run.id)
               & SyncRun.undone_at.is_null() & SyncRun.setup.is_null(False))
        .order_by(SyncRun.id.desc()).first()
    )
    return parse_setup(str(prior.setup)) if prior is not None else None


def _setup_changes(site: Site, run: SyncRun) -> list[str]:
    """What undoing ``run`` would put back of the setup before it, in words."""
    if run.kind != "sync" or not run.setup:
        return []
    before = _setup_before(site, run)
    if before is None:
        return []
    return setup_changes(parse_setup(run.setup), before)


def undo(store: Store, site: Site | str, *, restore_setup: bool = False) -> SyncRun:
    """Revert the latest sync or merge of the site; with ``restore_setup``, also put back the
    criteria and parent rules of the sync before it (the decisions stay as they are now)."""
    s = _site(store, site)
    with sync_lease(s), store.db.atomic():
        run = undo_latest(s)
        events.record(store, s, "undo", run_words(run), run=run)
        if restore_setup:
            reverted: SyncRun = SyncRun.get(
                (SyncRun.site == s) & (SyncRun.number == json.loads(run.counts)["undid"]))
            before = _setup_before(s, reverted)
            current = load_setup(store, s)
            if before is not None and current is not None:
                restored = current.model_copy(update={
                    "criteria": before.criteria, "parents": before.parents,
                    "family_groups": before.family_groups})
                _store_setup(store, s, restored, "setup",
                             f"setup put back by the undo of run {reverted.number}: "
                             + ("; ".join(setup_changes(current, restored)) or "unchanged"))
    return run
