"""Account snapshots for the journal (SyncChange.before/after) and reading accounts as rows."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, cast

import peewee as pw

from core.sync.rows import AccountRow
from store.bulk import rows_in
from store.models import Account, HourEntry, Site

SNAPSHOT_FIELDS = (
    "email",
    "email_key",
    "first_name",
    "last_name",
    "role",
    "status",
    "archived_reason",
    "origin",
    "person_id",
    "family_key",
    "grade",
    "invited_at",
)


ADD_FIELDS = ("email", "first_name", "last_name", "role", "family_key", "grade", "person_id")
"""What the journal keeps of an added account: undoing an add needs only its id, and the rest of
its first state (active, from FACTS, not invited) is the same for every add."""

_encode = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode
"""One encoder for every journal entry (``json.dumps`` with options builds one per call)."""


def snapshot(values: dict[str, Any]) -> str:
    """JSON of the journaled account fields (datetimes as ISO text)."""
    out = {}
    for name in SNAPSHOT_FIELDS:
        v = values.get(name)
        out[name] = v.isoformat() if isinstance(v, datetime) else v
    return _encode(out)


def add_entry(values: dict[str, Any]) -> str:
    """The compact journal entry of an add (its ``after``): the fields the sync gave it."""
    return _encode({name: values[name] for name in ADD_FIELDS})


def account_values(account: Account) -> dict[str, Any]:
    return {name: getattr(account, name) for name in SNAPSHOT_FIELDS}


def account_states(ids: Sequence[int]) -> dict[int, tuple[Any, ...]]:
    """Accounts by id -> the values of ``SNAPSHOT_FIELDS`` (in one query per 500 ids)."""
    invited: Callable[[Any], Any] = Account.invited_at.python_value
    return {
        aid: (*values[:-1], invited(values[-1]))
        for aid, *values in rows_in(Account, SNAPSHOT_FIELDS, "id", ids)
    }


def parse_snapshot(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    data: dict[str, Any] = json.loads(text)
    inv = data.get("invited_at")
    if isinstance(inv, str):
        data["invited_at"] = datetime.fromisoformat(inv)
    return data


def as_tuples(query: Any) -> list[tuple[Any, ...]]:
    """``query.tuples()`` rows, typed (the peewee stubs type them as model instances)."""
    return cast(list[tuple[Any, ...]], list(query.tuples()))


def fk(obj: pw.Model, name: str) -> Any:
    """The raw value of a foreign key column (its id) without loading the row."""
    return obj.__data__.get(name)


def approved_hours_query(site: Site) -> Any:
    return (
        HourEntry.select(HourEntry.account, pw.fn.SUM(HourEntry.hours).alias("total"))
        .join(Account)
        .where(
            (Account.site == site)
            & (HourEntry.status == "approved")
            & (HourEntry.deleted == False)  # noqa: E712
        )
        .group_by(HourEntry.account)
    )


ROW_FIELDS = ("email", "email_key", "first_name", "last_name", "role", "status", "origin",
              "person_id", "family_key", "grade", "archived_reason", "invited_at")


def load_account_rows(site: Site) -> list[AccountRow]:
    """Every account of the site as a plain row (by id), with approved-hours totals: two queries,
    the accounts read as stored (no per-value conversion: 25,000 of them at a large school)."""
    totals = {int(a): float(t or 0) for a, t in as_tuples(approved_hours_query(site))}
    rows = sorted(rows_in(Account, ROW_FIELDS, "site", [site.id]))
    return [
        AccountRow(
            id=aid,
            email=email,
            email_key=key,
            first_name=first or "",
            last_name=last or "",
            role=role or "",
            status=status,
            origin=origin,
            person_id=pid,
            family_key=fam,
            grade=grade,
            archived_reason=why,
            invited=inv is not None,
            hours=totals.get(aid, 0.0),
        )
        for aid, email, key, first, last, role, status, origin, pid, fam, grade, why, inv in rows
    ]
