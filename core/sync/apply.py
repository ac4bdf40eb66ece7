"""SyncPlan -> store: one transaction, every change journaled; and ``undo`` of the latest run.

A plan is applied all or nothing: an exception anywhere (or a killed process) rolls the whole run
back, so the store is exactly as before. The plan is checked against the accounts as they are now:
a plan made before someone else changed an account is refused rather than applied blindly.
"""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import peewee as pw

from core.sync.journal import (
    account_values,
    as_tuples,
    fk,
    load_account_rows,
    parse_snapshot,
    row_values,
    snapshot,
)
from core.sync.plan import PlanItem, SyncPlan, Target
from core.sync.rows import AccountRow
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
    """Another process holds the store's write lock (a sync, undo, merge or import)."""

    def __init__(self, site: str) -> None:
        super().__init__(f"the site {site!r} is being changed by another process; try again")


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
            raise SiteBusy(site.name) from None
        raise


def chunks(seq: Sequence[T], size: int = CHUNK) -> Iterable[Sequence[T]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


def _target_values(t: Target) -> dict[str, Any]:
    return {
        "email": t.email,
        "email_key": t.email_key,
        "first_name": t.first_name,
        "last_name": t.last_name,
        "role": t.role,
        "family_key": t.family_key,
        "grade": t.grade,
        "person_id": t.person_id,
        "origin": "sis",
        "status": "active",
        "archived_reason": None,
    }


def _check_fresh(plan: SyncPlan, site: Site) -> dict[int, AccountRow]:
    current = {a.id: a for a in load_account_rows(site)}
    for it in plan.items:
        if it.before is None:
            continue
        now = current.get(it.before.id)
        if now is None or row_values(now) != row_values(it.before):
            raise StalePlan(
                f"account {it.before.email or it.before.id} changed since the plan was made: "
                "plan the sync again"
            )
    for it in plan.of("add"):
        assert it.target is not None
        clash = [a for a in current.values() if a.person_id == it.person_id]
        if clash:
            raise StalePlan(f"person {it.person_id} got an account since the plan was made")
    return current


@dataclass(frozen=True)
class _Change:
    account_id: int | None
    action: str
    reason: str
    before: str | None
    after: str | None


def apply_plan(
    site: Site,
    plan: SyncPlan,
    *,
    confirm_archive: bool = False,
    extra_counts: dict[str, Any] | None = None,
) -> SyncRun:
    """Write the plan in one transaction and journal it as a SyncRun; returns the run."""
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
        run: SyncRun = SyncRun.create(site=site, kind="sync", counts=json.dumps(counts))
        changes: list[_Change] = []
        linked_ids: list[int] = []
        moving = [
            it.account_id
            for it in (*plan.of("link"), *plan.of("update"), *plan.of("restore"))
            if it.account_id is not None
            and it.target is not None
            and current[it.account_id].email_key != it.target.email_key
        ]
        for part in chunks(moving):  # emails may move between accounts (a swap): free them first
            Account.update(email_key=None).where(Account.id.in_(list(part))).execute()
        for action in ("link", "update", "restore"):
            for it in plan.of(action):
                changes.append(_update(it, current))
                if action == "link":
                    assert it.account_id is not None
                    linked_ids.append(it.account_id)
        changes += _archive(plan.of("archive"), current)
        changes += _insert_adds(site, plan.of("add"))  # last: an add may take a freed email
        _bulk(
            [
                {
                    "run": run.id,
                    "account": c.account_id,
                    "action": c.action,
                    "reason": c.reason,
                    "before": c.before,
                    "after": c.after,
                }
                for c in changes
            ],
            SyncChange,
        )
        enqueue_write_back(site, linked_ids)
        run.finished_at = utcnow()
        run.save()
    return run


def _bulk(rows: list[dict[str, Any]], model: type[pw.Model]) -> None:
    """Insert many rows with one prepared statement (peewee's insert_many builds SQL per row)."""
    if not rows:
        return
    names = list(rows[0])
    fields = [model._meta.fields[n] for n in names]
    columns = ", ".join(f'"{f.column_name}"' for f in fields)
    marks = ", ".join("?" for _ in fields)
    sql = f'INSERT INTO "{model._meta.table_name}" ({columns}) VALUES ({marks})'
    cursor = model._meta.database.cursor()
    cursor.executemany(sql, ([f.db_value(r[n]) for f, n in zip(fields, names, strict=True)] for r in rows))


def _insert_adds(site: Site, items: Sequence[PlanItem]) -> list[_Change]:
    if not items:
        return []
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for it in items:
        assert it.target is not None
        values = _target_values(it.target)
        rows.append({**values, "site": site.id, "created_at": now, "updated_at": now})
    _bulk(rows, Account)
    q = Account.select(Account.id, Account.person_id).where(
        (Account.site == site) & Account.person_id.is_null(False)
    )
    ids: dict[int, int] = {pid: aid for aid, pid in as_tuples(q)}  # one query, not one per add
    return [
        _Change(ids[row["person_id"]], "add", it.reason, None, snapshot(row))
        for it, row in zip(items, rows, strict=True)
    ]


def _update(it: PlanItem, current: dict[int, AccountRow]) -> _Change:
    assert it.account_id is not None and it.target is not None
    before = row_values(current[it.account_id])
    values = _target_values(it.target)
    Account.update(**values, updated_at=utcnow()).where(Account.id == it.account_id).execute()
    return _Change(
        it.account_id, it.action, it.reason, snapshot(before), snapshot({**before, **values})
    )


def _archive(items: Sequence[PlanItem], current: dict[int, AccountRow]) -> list[_Change]:
    by_reason: dict[str, list[int]] = defaultdict(list)
    out: list[_Change] = []
    for it in items:
        assert it.account_id is not None
        by_reason[it.reason].append(it.account_id)
        before = row_values(current[it.account_id])
        after = {**before, "status": "archived", "archived_reason": it.reason}
        out.append(_Change(it.account_id, "archive", it.reason, snapshot(before), snapshot(after)))
    now = utcnow()
    for reason, ids in by_reason.items():
        for part in chunks(ids):
            Account.update(status="archived", archived_reason=reason, updated_at=now).where(
                Account.id.in_(list(part))
            ).execute()
    return out


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
            site=site, kind="undo", counts=json.dumps({"undid": run.id, "changes": len(changes)})
        )
        journal: list[dict[str, Any]] = []
        # emails and links may move between the run's accounts: free them, then put back
        restoring = [
            fk(ch, "account")
            for ch in changes
            if ch.action not in ("add", "move-hours", "setup") and fk(ch, "account") is not None
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
        "reason": f"undo of run {run.id}: {ch.action}",
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
            account.archived_reason = f"added by run {run.id}, which was undone; kept for its hours"
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
