"""Site accounts beyond sync: the list with approved hours, manual accounts, merges, invites.

A merge moves every hour entry to the kept account and archives the absorbed one, journaled as a
``merge`` run so ``undo`` can revert it. Hours are never deleted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import peewee as pw

from core import events
from core.csvfile import csv_text
from core.sync.apply import SyncError, enqueue_write_back, site_transaction
from core.sync.journal import account_values, as_tuples, load_account_rows, snapshot
from core.sync.setup import Decision, SetupDoc, dump_setup, email_key, parse_setup
from core.sync.text import clean_text, email_is_valid
from store import Store
from store.models import Account, HourEntry, Site, SyncChange, SyncRun, SyncSetup, utcnow


class AccountError(SyncError):
    """A refusal about accounts with a sentence the admin can act on."""


@dataclass(frozen=True)
class AccountView:
    """One account as ``factsync accounts --json`` prints it."""

    id: int
    email: str | None
    first_name: str
    last_name: str
    status: str
    origin: str
    person_id: int | None
    family_key: str | None
    hours: float
    invited: bool
    role: str
    grade: str | None
    archived_reason: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "firstName": self.first_name,
            "lastName": self.last_name,
            "status": self.status,
            "origin": self.origin,
            "personId": self.person_id,
            "familyKey": self.family_key,
            "hours": self.hours,
            "invited": self.invited,
        }


def list_accounts(site: Site) -> list[AccountView]:
    """Every account of the site (active first, then by name) with its approved hours."""
    views = [
        AccountView(
            id=r.id,
            email=r.email,
            first_name=r.first_name,
            last_name=r.last_name,
            status=r.status,
            origin=r.origin,
            person_id=r.person_id,
            family_key=r.family_key,
            hours=round(r.hours, 2),
            invited=r.invited,
            role=r.role,
            grade=r.grade,
            archived_reason=r.archived_reason,
        )
        for r in load_account_rows(site)
    ]
    views.sort(key=lambda v: (v.status != "active", v.last_name.casefold(), v.first_name.casefold(), v.id))
    return views


def add_account(site: Site, *, email: str, first_name: str, last_name: str) -> Account:
    """A manual account (origin ``manual``): sync links it when a FACTS person has its email."""
    display = email.strip()
    key = email_key(display)
    if not key or not email_is_valid(display):
        raise AccountError(f"email {email!r} is not valid")
    db = Site._meta.database
    try:
        with db.atomic():
            account: Account = Account.create(
                site=site,
                email=display,
                email_key=key,
                first_name=clean_text(first_name),
                last_name=clean_text(last_name),
                origin="manual",
            )
    except pw.IntegrityError:
        raise AccountError(f"site {site.name!r} already has an account with email {display}") from None
    return account


def find_account(site: Site, email: str) -> Account:
    account: Account | None = Account.get_or_none(
        (Account.site == site) & (Account.email_key == email_key(email))
    )
    if account is None:
        raise AccountError(f"site {site.name!r} has no account with email {email!r}")
    return account


def merge_accounts(store: Store, site: Site, *, keep: str, absorb: str) -> SyncRun:
    """Move the absorbed account's hours (and FACTS link) to the kept one; archive the absorbed.

    The absorbed account releases its email (kept for display) and its link. When the kept
    account takes over the absorbed one's FACTS link, the kept email is pinned in the setup so a
    later sync does not overwrite it; when both were linked to different FACTS people, the
    absorbed person is skipped by later syncs (a saved decision), so the duplicate is not re-made.
    """
    with site_transaction(site):
        k = find_account(site, keep)
        a = find_account(site, absorb)
        if k.id == a.id:
            raise AccountError("the account to keep and the one to absorb are the same account")
        if k.status != "active":
            raise AccountError(f"the account to keep ({k.email}) is archived")
        run: SyncRun = SyncRun.create(site=site, kind="merge")
        changes: list[dict[str, Any]] = []
        entries = [
            int(row[0])
            for row in as_tuples(HourEntry.select(HourEntry.id).where(HourEntry.account == a))
        ]
        hours = sum(
            float(row[0])
            for row in as_tuples(
                HourEntry.select(HourEntry.hours).where(
                    (HourEntry.account == a) & (HourEntry.status == "approved") & ~HourEntry.deleted
                )
            )
        )
        if entries:
            HourEntry.update(account=k, updated_at=utcnow()).where(HourEntry.id.in_(entries)).execute()
            changes.append(
                _change(run, k.id, "move-hours", f"{len(entries)} hour entries from {a.email}",
                        json.dumps({"entries": entries, "from": a.id}), json.dumps({"to": k.id}))
            )
        setup_row: SyncSetup | None = SyncSetup.get_or_none(SyncSetup.site == site)
        doc: SetupDoc | None = parse_setup(setup_row.document) if setup_row else None
        new_doc = doc
        k_before = snapshot(account_values(k))
        a_before = snapshot(account_values(a))
        a_person = a.person_id
        if a_person is not None and k.person_id is None:
            k.person_id = a_person
            k.origin = "sis"
            k.family_key = k.family_key or a.family_key
            k.role = k.role or a.role
            k.grade = k.grade or a.grade
            if new_doc is not None and k.email:
                new_doc = new_doc.with_kept_email(a_person, k.email)
        elif a_person is not None and k.person_id is not None and new_doc is not None:
            new_doc = new_doc.with_decision(Decision(action="skip", person_id=a_person))
        a.person_id = None
        a.email_key = None
        a.status = "archived"
        a.archived_reason = f"merged into {k.email}"
        a.updated_at = k.updated_at = utcnow()
        a.save()  # first: frees the link and the email the kept account may take
        k.save()
        changes.append(_change(run, k.id, "merge", f"absorbed {a.email}", k_before,
                               snapshot(account_values(k))))
        changes.append(_change(run, a.id, "archive", f"merged into {k.email}", a_before,
                               snapshot(account_values(a))))
        if new_doc is not None and doc is not None and new_doc != doc and setup_row is not None:
            before_text = setup_row.document
            setup_row.document = dump_setup(new_doc)
            setup_row.version += 1
            setup_row.updated_at = utcnow()
            setup_row.save()
            changes.append(_change(run, None, "setup", "saved with the merge", before_text,
                                   setup_row.document))
        SyncChange.insert_many(changes).execute()
        if k.person_id is not None:
            enqueue_write_back(site, [k.id])
        run.counts = json.dumps({"merged": 1, "entries_moved": len(entries), "hours_moved": hours})
        run.finished_at = utcnow()
        run.save()
        events.record(store, site, "merge", f"merge run {run.number}: {a.email} absorbed into "
                      f"{k.email}, {len(entries)} hour entries moved", run=run)
    return run


def _change(
    run: SyncRun, account_id: int | None, action: str, reason: str, before: str | None,
    after: str | None,
) -> dict[str, Any]:
    return {"run": run.id, "account": account_id, "action": action, "reason": reason,
            "before": before, "after": after}


# --- invites ---------------------------------------------------------------------------------

INVITE_COLUMNS = ("email", "firstName", "lastName", "family")


@dataclass(frozen=True)
class Invite:
    account_id: int
    email: str
    first_name: str
    last_name: str
    family: str

    def row(self) -> list[str]:
        return [self.email, self.first_name, self.last_name, self.family]


def pending_invites(site: Site) -> list[Invite]:
    """Accounts a sync created that were never invited (active, with an email), oldest first.

    An account that existed before (typed in by hand, already using the volunteer site) is not
    invited, even when a sync linked it to FACTS: only the people the sync brought are new.
    """
    created = SyncChange.select(SyncChange.account).join(SyncRun).where(
        (SyncRun.site == site) & (SyncChange.action == "add")
    )
    query = (
        Account.select(Account.id, Account.email, Account.first_name, Account.last_name,
                       Account.family_key)
        .where(
            (Account.site == site)
            & (Account.status == "active")
            & Account.invited_at.is_null()
            & Account.email_key.is_null(False)
            & Account.id.in_(created)
        )
        .order_by(Account.id)
    )
    return [
        Invite(int(i), str(e), f or "", ln or "", fam or "")
        for i, e, f, ln, fam in as_tuples(query)
    ]


def invites_csv(invites: list[Invite]) -> str:
    """CSV text, through the one writer that keeps spreadsheet formulas inert."""
    return csv_text(INVITE_COLUMNS, (inv.row() for inv in invites))


def mark_invited(site: Site, invites: list[Invite]) -> int:
    ids = [i.account_id for i in invites]
    if not ids:
        return 0
    db = Site._meta.database
    with db.atomic():
        return int(
            Account.update(invited_at=utcnow())
            .where((Account.site == site) & Account.id.in_(ids) & Account.invited_at.is_null())
            .execute()
        )
