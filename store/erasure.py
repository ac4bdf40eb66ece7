"""The queries of ``factsync forget``: find where a person's data sits in a site's rows, and
rewrite those rows. ``core.forget`` decides what is personal and what replaces it.

Every text column of every table is searched: a table tied to a site (directly, or through its
accounts, entries or runs) is searched in that site's rows only; a table tied to none is
searched whole, so a table added later is never left out.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import peewee as pw

from store.db import Store
from store.models import (
    ALL_MODELS,
    Account,
    BaseModel,
    HourEntry,
    Outbox,
    SyncChange,
    SyncRun,
)


@dataclass(frozen=True)
class TextHit:
    """One text value holding a needle: which table, column and row."""

    model: type[BaseModel]
    field: str
    row_id: int
    text: str

    @property
    def table(self) -> str:
        return str(self.model._meta.table_name)


def _site_scope(model: type[BaseModel], site_id: int) -> Any:
    """The rows of ``model`` that belong to the site (None: the table is tied to no site)."""
    accounts = Account.select(Account.id).where(Account.site == site_id)
    entries = HourEntry.select(HourEntry.id).where(HourEntry.account.in_(accounts))
    runs = SyncRun.select(SyncRun.id).where(SyncRun.site == site_id)
    fields = model._meta.fields
    if model._meta.table_name == "site":
        return model.id == site_id
    if "site" in fields:
        return fields["site"] == site_id
    if "account" in fields:
        return fields["account"].in_(accounts)
    if "entry" in fields:
        return fields["entry"].in_(entries)
    if "run" in fields:
        return fields["run"].in_(runs)
    return None


def text_fields(model: type[BaseModel]) -> list[pw.Field]:
    """The columns of ``model`` that hold text."""
    return [f for f in model._meta.sorted_fields
            if isinstance(f, pw.CharField | pw.TextField) and not isinstance(f, pw.ForeignKeyField)]


def find_text(store: Store, site_id: int, needles: Sequence[str]) -> list[TextHit]:
    """Every text value of the site's rows (and of the tables tied to no site) that holds one
    of ``needles``, case-insensitively (a candidate: the caller checks the exact match)."""
    hits: list[TextHit] = []
    wanted = [n for n in dict.fromkeys(needles) if n]
    if not wanted:
        return hits
    for model in ALL_MODELS:
        scope = _site_scope(model, site_id)
        for field in text_fields(model):
            match = functools.reduce(operator.or_, [field.contains(n) for n in wanted])
            query = model.select(model.id, field).where(match)
            if scope is not None:
                query = query.where(scope)
            for row_id, text in cast(Any, query.tuples()):
                if text:
                    hits.append(TextHit(model, field.name, int(row_id), str(text)))
    return hits


def journal_of(store: Store, account_ids: Iterable[int]) -> list[TextHit]:
    """The before/after snapshots of every journaled change of the accounts (also those that
    show an email the account no longer has)."""
    hits: list[TextHit] = []
    for row_id, before, after in cast(Any, SyncChange.select(
            SyncChange.id, SyncChange.before, SyncChange.after)
            .where(SyncChange.account.in_(sorted(account_ids))).tuples()):
        hits += [TextHit(SyncChange, name, int(row_id), str(text))
                 for name, text in (("before", before), ("after", after)) if text]
    return hits


def entries_of(store: Store, account_ids: Iterable[int]) -> set[int]:
    query = HourEntry.select(HourEntry.id).where(HourEntry.account.in_(sorted(account_ids)))
    return {int(row[0]) for row in cast(Any, query.tuples())}


def write_text(store: Store, changes: Iterable[tuple[TextHit, str | None]]) -> dict[str, int]:
    """Give each hit's column its new text; returns how many values changed per table."""
    counts: dict[str, int] = {}
    for hit, text in changes:
        field = hit.model._meta.fields[hit.field]
        hit.model.update({field: text}).where(hit.model.id == hit.row_id).execute()
        counts[hit.table] = counts.get(hit.table, 0) + 1
    return counts


def accounts_with_email(store: Store, site_id: int, key: str) -> list[int]:
    """The site's accounts whose email is ``key`` (compared trimmed and case-folded): the one
    holding it, and any merged away that still show it."""
    return sorted(
        int(a.id) for a in Account.select(Account.id, Account.email, Account.email_key)
        .where((Account.site == site_id) & ((Account.email_key == key)
                                            | (pw.fn.LOWER(pw.fn.TRIM(Account.email)) == key)))
    )


def merged_together(store: Store, account_ids: Iterable[int]) -> set[int]:
    """The accounts and every account a merge joined to them (in either direction), as far as
    merges reach: a merge said they are one person."""
    found = set(account_ids)
    merges = SyncRun.select(SyncRun.id).where((SyncRun.kind == "merge")
                                              & SyncRun.undone_at.is_null())  # undone: two people
    pairs: list[tuple[int, int]] = []
    by_run: dict[int, list[int]] = {}
    for run_id, account_id in cast(Any, SyncChange.select(SyncChange.run, SyncChange.account)
                                   .where(SyncChange.run.in_(merges)
                                          & SyncChange.account.is_null(False)
                                          & SyncChange.action.in_(["merge", "archive"]))
                                   .tuples()):
        by_run.setdefault(int(run_id), []).append(int(account_id))
    for members in by_run.values():
        pairs += [(a, b) for a in members for b in members if a != b]
    grew = True
    while grew:
        grew = False
        for a, b in pairs:
            if a in found and b not in found:
                found.add(b)
                grew = True
    return found


def accounts(store: Store, ids: Iterable[int]) -> list[Account]:
    return list(Account.select().where(Account.id.in_(sorted(ids))).order_by(Account.id))


def anonymise_accounts(store: Store, ids: Sequence[int], reason: str) -> int:
    """Clear the accounts' email and names and mark them forgotten (their id, FACTS link,
    family and hours stay)."""
    return int(Account.update(email=None, email_key=None, first_name="", last_name="",
                              status="forgotten", archived_reason=reason)
               .where(Account.id.in_(list(ids))).execute())


def entries_in_facts(store: Store, site_id: int) -> set[int]:
    """Entries of the site whose text FACTS holds or may hold: sent, adopted, in flight or with
    an attempt whose outcome is unknown."""
    site_entries = HourEntry.select(HourEntry.id).join(Account).where(Account.site == site_id)
    query = Outbox.select(Outbox.entry).where(
        Outbox.entry.in_(site_entries)
        & (Outbox.service_hours_id.is_null(False) | Outbox.outcome_unknown
           | Outbox.state.in_(["sent", "inflight"])))
    return {int(row[0]) for row in cast(Any, query.tuples())}


def hour_totals(store: Store, ids: Sequence[int]) -> tuple[int, float]:
    """(entries, approved hours not deleted) of the accounts."""
    entries = HourEntry.select().where(HourEntry.account.in_(list(ids))).count()
    approved = (HourEntry.select(pw.fn.SUM(HourEntry.hours))
                .where(HourEntry.account.in_(list(ids)) & (HourEntry.status == "approved")
                       & ~HourEntry.deleted).scalar())
    return int(entries), float(approved or 0.0)


def zero_freed_space(store: Store) -> None:
    """From now on this connection overwrites what it deletes or replaces with zeros (SQLite
    otherwise leaves old values in freed space until it is reused; Debian builds SQLite with
    this on, most others do not). Call before a rewrite."""
    if isinstance(store.db, pw.SqliteDatabase):
        store.db.execute_sql("PRAGMA secure_delete = ON")  # type: ignore[no-untyped-call]


def flush_log(store: Store) -> None:
    """Copy the write-ahead log into the file and empty it, so no old page image of a rewrite
    stays in the log. Call after the rewrite is committed."""
    if isinstance(store.db, pw.SqliteDatabase):
        store.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[no-untyped-call]
