"""SyncPlan -> store: one transaction, every change journaled; and ``undo`` of the latest run.

A plan is applied all or nothing: an exception anywhere (or a killed process) rolls the whole run
back, so the store is exactly as before. The plan is checked against the accounts as they are now:
a plan made before someone else changed an account is refused rather than applied blindly.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from operator import attrgetter
from typing import Any, TypeVar

from peewee import fn

from core.sync.journal import (
    SNAPSHOT_FIELDS,
    account_states,
    account_values,
    add_entry,
    fk,
    parse_snapshot,
    snapshot,
)
from core.sync.plan import Action, PlanItem, SyncPlan, Target
from store.bulk import insert_rows, next_id, rows_in, update_rows
from store.db import is_busy
from store.models import Account, HourEntry, Site, SyncChange, SyncRun, SyncSetup, utcnow

CHUNK = 400
T = TypeVar("T")


class SyncError(Exception):
    """A refusal of apply or undo, with a sentence the admin can act on."""


class ArchiveConfirmationNeeded(SyncError):
    def __init__(self, plan: SyncPlan) -> None:
        self.plan = plan
        names = ", ".join(it.name for it in plan.of("archive")[:5])
        more = len(plan.of("archive")) - 5
        super().__init__(
            " ".join(plan.archive.reasons)
            + (f" (first: {names}{f' and {more} more' if more > 0 else ''})" if names else "")
        )


class StalePlan(SyncError):
    """The accounts changed since the plan was made: plan again."""


class SiteBusy(SyncError):
    """Another process is changing the site: it holds the store's write lock (a sync, undo,
    merge or import), or the site's sync lease (whose message names who and since when)."""

    @classmethod
    def locked(cls, site: str) -> SiteBusy:
        return cls(f"the site {site!r} is being changed by another process; try again")


@contextlib.contextmanager
def site_transaction(site: Site) -> Iterator[None]:
    """The write transaction of a sync, undo or merge: ``BEGIN IMMEDIATE`` takes the write lock
    before anything is read, so two at once never interleave; the second waits the store's
    busy timeout and then gets a clean :class:`SiteBusy` instead of a traceback."""
    try:
        with Site._meta.database.atomic("IMMEDIATE"):
            yield
    except Exception as err:
        if is_busy(err):
            raise SiteBusy.locked(site.name) from None
        raise


def chunks(seq: Sequence[T], size: int = CHUNK) -> Iterable[Sequence[T]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


ACCOUNT_FIELDS = (
    "email",
    "email_key",
    "first_name",
    "last_name",
    "role",
    "family_key",
    "grade",
    "person_id",
    "origin",
    "status",
    "archived_reason",
)
"""The account fields a sync writes, in the order of ``_target_values``."""
FRESH = len(SNAPSHOT_FIELDS) - 1
"""An account state without its last field (``invited_at``) is what a plan must find unchanged."""
_fresh_key = attrgetter(*SNAPSHOT_FIELDS[:FRESH])
_EMAIL_KEY = SNAPSHOT_FIELDS.index("email_key")


def _target_values(t: Target) -> tuple[Any, ...]:
    return (t.email, t.email_key, t.first_name, t.last_name, t.role, t.family_key, t.grade,
            t.person_id, "sis", "active", None)


WRITES: tuple[Action, ...] = ("link", "update", "restore", "archive")
"""Plan actions that write an existing account (adds insert new ones)."""


def _check_fresh(plan: SyncPlan, site: Site) -> dict[int, tuple[Any, ...]]:
    """Refuse a plan made before someone else changed the site's accounts; returns the states
    now of the accounts it writes (id -> ``SNAPSHOT_FIELDS`` values: the journal's before-states).

    Another run of the site since the plan (a sync, a merge, an undo) makes it stale; so does an
    account it writes that is not exactly as it saw it, and an add whose person or email has an
    account now. All by key lookups: nothing here grows with the accounts the plan leaves alone.
    """
    newest = newest_run_id(site)
    if plan.seen_run is not None and newest != plan.seen_run:
        raise StalePlan(
            f"the site changed since the plan was made (run {newest}): plan the sync again"
        )
    written = [it for action in WRITES for it in plan.of(action)]
    current = account_states([it.account_id for it in written if it.account_id is not None])
    for it in written:
        b = it.before
        assert b is not None
        now = current.get(b.id)
        if now is None or now[:FRESH] != _fresh_key(b):
            raise StalePlan(
                f"account {b.email or b.id} changed since the plan was made: plan the sync again"
            )
    adds = plan.of("add")
    taken = rows_in(Account, ("person_id",), "person_id", [it.person_id for it in adds],
                    site=site.id)
    if taken:
        raise StalePlan(f"person {taken[0][1]} got an account since the plan was made")
    moving = {b.id for it in written if (b := it.before) and it.target is not None
              and it.target.email_key != b.email_key}  # an add may take the email one frees
    keys = [it.target.email_key for it in adds if it.target is not None]
    for aid, key in rows_in(Account, ("email_key",), "email_key", keys, site=site.id):
        if aid not in moving:
            raise StalePlan(
                f"email {key} went to another account since the plan was made: plan the sync again"
            )
    return current


Journal = list[tuple[Any, ...]]
"""SyncChange rows: run, account, action, reason, before, after."""
JOURNAL_FIELDS = ("run", "account", "action", "reason", "before", "after")


def apply_plan(
    site: Site,
    plan: SyncPlan,
    *,
    confirm_archive: bool = False,
    extra_counts: dict[str, Any] | None = None,
    setup: str | None = None,
) -> SyncRun:
    """Write the plan in one transaction and journal it as a SyncRun; returns the run.

    ``setup``: the setup document the plan was made with, kept on the run (undo offers to
    restore the one before it)."""
    if plan.needs_confirmation and not confirm_archive:
        raise ArchiveConfirmationNeeded(plan)
    if site.kind and site.kind != plan.kind:
        raise SyncError(
            f"site {site.name!r} rosters {site.kind}; a plan for {plan.kind} cannot be applied"
        )
    with site_transaction(site):
        current = _check_fresh(plan, site)
        if site.kind is None:
            Site.update(kind=plan.kind).where(Site.id == site.id).execute()
            site.kind = plan.kind
        counts: dict[str, Any] = dict(plan.counts())
        counts.update(
            matched_students=plan.matched_students,
            roster_students=plan.roster_students,
            enrolled_students=plan.enrolled_students,
            withheld_archives=len(plan.withheld),
            open_conflicts=[k.key for k in plan.open_conflicts],
            **(extra_counts or {}),
        )
        run: SyncRun = SyncRun.create(site=site, kind="sync", counts=json.dumps(counts),
                                      setup=setup)
        now = utcnow()
        journal: Journal = []
        _update(run.id, (*plan.of("link"), *plan.of("update"), *plan.of("restore")), current,
                now, journal)
        _archive(run.id, plan.of("archive"), current, now, journal)
        _insert_adds(run.id, site, plan.of("add"), now, journal)  # last: may take a freed email
        insert_rows(SyncChange, JOURNAL_FIELDS, journal)
        enqueue_write_back(site, [it.account_id for it in plan.of("link") if it.account_id])
        run.finished_at = utcnow()
        run.save()
    return run


def _update(
    run_id: int,
    items: Sequence[PlanItem],
    current: dict[int, tuple[Any, ...]],
    now: datetime,
    journal: Journal,
) -> None:
    """Links, updates and restores: one prepared UPDATE for them all."""
    rows: list[tuple[Any, ...]] = []
    freed: list[tuple[None, int]] = []
    for it in items:
        assert it.account_id is not None and it.target is not None
        state = current[it.account_id]
        values = _target_values(it.target)
        if state[_EMAIL_KEY] != it.target.email_key:
            freed.append((None, it.account_id))
        rows.append((*values, now, it.account_id))
        before = dict(zip(SNAPSHOT_FIELDS, state, strict=True))
        after = {**before, **dict(zip(ACCOUNT_FIELDS, values, strict=True))}
        journal.append((run_id, it.account_id, it.action, it.reason, snapshot(before),
                        snapshot(after)))
    # emails may move between accounts (a swap): free them all first
    update_rows(Account, ("email_key",), freed)
    update_rows(Account, (*ACCOUNT_FIELDS, "updated_at"), rows)


def _archive(
    run_id: int,
    items: Sequence[PlanItem],
    current: dict[int, tuple[Any, ...]],
    now: datetime,
    journal: Journal,
) -> None:
    """Archives: one prepared UPDATE; each keeps its reason."""
    rows: list[tuple[Any, ...]] = []
    for it in items:
        assert it.account_id is not None
        rows.append(("archived", it.reason, now, it.account_id))
        before = dict(zip(SNAPSHOT_FIELDS, current[it.account_id], strict=True))
        after = {**before, "status": "archived", "archived_reason": it.reason}
        journal.append((run_id, it.account_id, "archive", it.reason, snapshot(before),
                        snapshot(after)))
    update_rows(Account, ("status", "archived_reason", "updated_at"), rows)


def _insert_adds(
    run_id: int, site: Site, items: Sequence[PlanItem], now: datetime, journal: Journal
) -> None:
    """New accounts with ids assigned up front, so the journal needs no read-back."""
    rows: list[tuple[Any, ...]] = []
    first = next_id(Account)
    for aid, it in enumerate(items, start=first):
        assert it.target is not None
        values = _target_values(it.target)
        rows.append((aid, site.id, *values, now, now))
        journal.append((run_id, aid, "add", it.reason, None,
                        add_entry(dict(zip(ACCOUNT_FIELDS, values, strict=True)))))
    insert_rows(Account, ("id", "site", *ACCOUNT_FIELDS, "created_at", "updated_at"), rows)


def enqueue_write_back(site: Site, account_ids: Sequence[int]) -> int:
    """Approved hours of accounts just linked to FACTS go to the write-back outbox (same txn)."""
    if not account_ids:
        return 0
    has_hours = (
        HourEntry.select(HourEntry.id)
        .where(HourEntry.account.in_(list(account_ids)) & (HourEntry.status == "approved"))
        .exists()
    )
    if not has_hours:
        return 0
    if site.kind is None:  # a Site object held since before the first sync
        site = Site.get_by_id(site.id)
    from core.writeback.outbox import enqueue_for_accounts  # lazy: write-back imports the store

    return int(enqueue_for_accounts(site, list(account_ids)))


# --- undo --------------------------------------------------------------------------------------


def newest_run_id(site: Site) -> int:
    """The id of the site's newest run of any kind (0 when it has none)."""
    return int(SyncRun.select(fn.MAX(SyncRun.id)).where(SyncRun.site == site).scalar() or 0)


def latest_run(site: Site) -> SyncRun | None:
    run: SyncRun | None = (
        SyncRun.select()
        .where((SyncRun.site == site) & (SyncRun.kind != "undo") & SyncRun.undone_at.is_null())
        .order_by(SyncRun.id.desc())
        .first()
    )
    return run


def undo_latest(site: Site) -> SyncRun:
    """Revert the latest run (sync or merge) of the site, journaled as an ``undo`` run.

    Accounts the run added are deleted, unless they have hours since: then they are archived, so
    no hour is ever lost.
    """
    with site_transaction(site):
        run = latest_run(site)
        if run is None:
            raise SyncError(f"site {site.name!r} has no run to undo")
        changes = list(
            SyncChange.select().where(SyncChange.run == run).order_by(SyncChange.id.desc())
        )
        undo: SyncRun = SyncRun.create(
            site=site, kind="undo", counts=json.dumps({"undid": run.number, "changes": len(changes)})
        )
        journal: list[dict[str, Any]] = []
        touched = {fk(ch, "account") for ch in changes} - {None}
        forgotten = {a.id for a in Account.select(Account.id).where(
            Account.id.in_(sorted(touched)) & (Account.status == "forgotten"))}
        # emails and links may move between the run's accounts: free them, then put back
        restoring = [
            fk(ch, "account")
            for ch in changes
            if ch.action not in ("add", "move-hours", "setup")
            and fk(ch, "account") is not None and fk(ch, "account") not in forgotten
        ]
        prior = {
            a.id: snapshot(account_values(a))
            for a in Account.select().where(Account.id.in_(restoring))
        }
        for part in chunks(restoring):
            Account.update(email_key=None, person_id=None).where(
                Account.id.in_(list(part))
            ).execute()
        for ch in changes:
            if fk(ch, "account") in forgotten and ch.action != "move-hours":
                journal.append({"run": undo.id, "account": fk(ch, "account"), "action": "revert",
                                "reason": f"undo of run {run.number}: {ch.action} left as it "
                                          "is (the account was forgotten)",
                                "before": None, "after": None})
                continue
            journal.append(_revert(undo, run, ch, prior))
        for part in chunks(journal):
            SyncChange.insert_many(list(part)).execute()
        run.undone_at = utcnow()
        run.save()
        undo.finished_at = utcnow()
        undo.save()
    return undo


def _revert(
    undo: SyncRun, run: SyncRun, ch: SyncChange, prior: dict[int, str]
) -> dict[str, Any]:
    aid = fk(ch, "account")
    entry: dict[str, Any] = {
        "run": undo.id,
        "account": aid,
        "action": "revert",
        "reason": f"undo of run {run.number}: {ch.action}",
        "before": None,
        "after": None,
    }
    if ch.action == "move-hours":
        data = json.loads(ch.before or "{}")
        HourEntry.update(account=data["from"]).where(HourEntry.id.in_(data["entries"])).execute()
        entry.update(before=ch.after, after=ch.before)
        return entry
    if ch.action == "setup":
        row: SyncSetup | None = SyncSetup.get_or_none(SyncSetup.site == fk(run, "site"))
        if row is not None and row.document == ch.after and ch.before:
            row.document = ch.before
            row.version += 1
            row.updated_at = utcnow()
            row.save()
        entry.update(before=ch.after, after=ch.before)
        return entry
    if aid is None:
        return entry
    account: Account | None = Account.get_or_none(Account.id == aid)
    if account is None:
        return entry
    now_values = prior.get(aid) or snapshot(account_values(account))
    if ch.action == "add":
        if HourEntry.select().where(HourEntry.account == account).exists():
            account.status = "archived"
            account.archived_reason = f"added by run {run.number}, which was undone; kept for its hours"
            account.updated_at = utcnow()
            account.save()
            entry.update(before=now_values, after=snapshot(account_values(account)))
        else:
            Account.delete().where(Account.id == aid).execute()
            entry.update(account=None, before=now_values, reason=entry["reason"] + f" (account {aid} deleted)")
        return entry
    values = parse_snapshot(ch.before)
    for name, value in values.items():
        setattr(account, name, value)
    account.updated_at = utcnow()
    account.save()
    entry.update(before=now_values, after=snapshot(account_values(account)))
    return entry
