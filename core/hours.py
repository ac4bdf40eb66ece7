"""Volunteer-hour entries on a site: add, approve, reject, edit, delete, CSV import, list, backfill.

Every change that FACTS must hear about enqueues its write-back in the same transaction
(``core.writeback.outbox.enqueue_entry``), so an approval is never lost between the site and FACTS.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

import peewee as pw

from core.sites import SiteError
from core.sync.setup import email_key
from core.sync.text import clean_text
from core.writeback.outbox import enqueue_entry, write_transaction
from core.writeback.witness import Candidate, entry_candidates
from store.models import Account, HourEntry, Outbox, Site, utcnow

STATUSES = ("pending", "approved", "rejected")
MAX_DESCRIPTION = 255
"""FACTS keeps at most 255 characters of a service-hours description."""
MAX_HOURS = 24.0
MIN_HOURS = 0.01
"""Less rounds to 0 h, which FACTS reads as a withdrawn entry."""
CSV_COLUMNS = ("email", "date", "hours", "description", "status")
_WHITESPACE = re.compile(r"\s+")
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


class HoursError(SiteError):
    """A refusal about hour entries, naming the entry or line it is about."""


# --- validation (pure) -------------------------------------------------------------------------


def parse_date(text: str, *, today: date | None = None) -> date:
    """``YYYY-MM-DD`` (or ``M/D/YYYY`` as spreadsheets write it); never in the future."""
    value = text.strip()
    parsed: date | None = None
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        m = _US_DATE.match(value)
        if m:
            try:
                parsed = date(int(m.group(3)), int(m.group(1)), int(m.group(2)))
            except ValueError:
                parsed = None
    if parsed is None:
        raise ValueError(f"date {text!r} is not a date (use YYYY-MM-DD)")
    if parsed > (today or date.today()):
        raise ValueError(f"date {parsed.isoformat()} is in the future")
    if parsed.year < 1900:
        raise ValueError(f"date {parsed.isoformat()} is too far in the past")
    return parsed


def parse_hours(value: str | float) -> float:
    """A number of hours from 0.01 to 24 for one entry, rounded to 1/100."""
    try:
        hours = float(value.strip()) if isinstance(value, str) else float(value)
    except ValueError:
        raise ValueError(f"hours {value!r} is not a number") from None
    if not math.isfinite(hours) or hours <= 0:
        raise ValueError(f"hours {value!r} must be more than 0")
    if hours < MIN_HOURS:
        raise ValueError(
            f"hours {value!r} is less than {MIN_HOURS:g} (FACTS would read it as 0 h, a withdrawal)"
        )
    if hours > MAX_HOURS:
        raise ValueError(f"hours {hours:g} is more than {MAX_HOURS:g} for one entry")
    return round(hours, 2)


def parse_description(text: str | None) -> str:
    """Trimmed, one line (newlines and tabs become spaces), no control characters, <= 255."""
    cleaned = clean_text(_WHITESPACE.sub(" ", text or ""), max_len=10_000)
    if len(cleaned) > MAX_DESCRIPTION:
        raise ValueError(
            f"description is {len(cleaned)} characters; FACTS keeps at most {MAX_DESCRIPTION}"
        )
    return cleaned


def parse_status(text: str | None) -> str:
    value = (text or "").strip().casefold() or "pending"
    if value not in STATUSES:
        raise ValueError(f"status {text!r} is not one of {', '.join(STATUSES)}")
    return value


# --- views -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryView:
    """One entry as listed (``factsync hours SITE --json``), with its write-back state."""

    id: int
    email: str | None
    name: str
    person_id: int | None
    date: date
    hours: float
    description: str
    status: str
    verifier: str | None
    approved_by: str | None
    approved_at: datetime | None
    writeback: str | None
    service_hours_id: int | None
    last_error: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "name": self.name,
            "personId": self.person_id,
            "date": self.date.isoformat(),
            "hours": self.hours,
            "description": self.description,
            "status": self.status,
            "verifier": self.verifier,
            "approvedBy": self.approved_by,
            "approvedAt": self.approved_at.isoformat() if self.approved_at else None,
            "writeback": self.writeback,
            "serviceHoursId": self.service_hours_id,
            "lastError": self.last_error,
        }


def _writeback_label(entry: HourEntry, account: Account, row: Outbox | None) -> str | None:
    if row is None:
        if entry.status == "approved" and not entry.deleted and account.person_id is None:
            return "waiting-link"
        return None
    if row.state == "sent":
        return {"create": "sent", "update": "updated", "withdraw": "withdrawn"}[row.operation]
    if row.state == "failed":
        return "failed"
    return "queued"


def list_entries(
    site: Site, *, status: str | None = None, include_deleted: bool = False
) -> list[EntryView]:
    """Entries of the site, newest date first, each with its write-back state."""
    query = (
        HourEntry.select(HourEntry, Account, Outbox)
        .join(Account)
        .switch(HourEntry)
        .join(Outbox, join_type=pw.JOIN.LEFT_OUTER, on=(Outbox.entry == HourEntry.id), attr="wb")
        .where(Account.site == site.id)
        .order_by(HourEntry.date.desc(), HourEntry.id.desc())
    )
    if status is not None:
        query = query.where(HourEntry.status == parse_status(status))
    if not include_deleted:
        query = query.where(HourEntry.deleted == False)  # noqa: E712
    out: list[EntryView] = []
    for entry in query:
        account: Account = entry.account
        row: Outbox | None = getattr(entry, "wb", None)
        if not isinstance(row, Outbox) or row.id is None:
            row = None
        out.append(
            EntryView(
                id=entry.id,
                email=account.email,
                name=f"{account.first_name} {account.last_name}".strip(),
                person_id=account.person_id,
                date=entry.date,
                hours=float(entry.hours),
                description=entry.description,
                status=entry.status,
                verifier=entry.verifier,
                approved_by=entry.approved_by,
                approved_at=entry.approved_at,
                writeback=_writeback_label(entry, account, row),
                service_hours_id=row.service_hours_id if row else None,
                last_error=row.last_error if row else None,
            )
        )
    return out


# --- single-entry changes ----------------------------------------------------------------------


def _account(site: Site, email: str) -> Account:
    account: Account | None = Account.get_or_none(
        (Account.site == site.id) & (Account.email_key == email_key(email))
    )
    if account is None:
        raise HoursError(f"site {site.name!r} has no account with email {email.strip()!r}")
    return account


def _entries(site: Site, ids: Iterable[int]) -> list[HourEntry]:
    wanted = list(dict.fromkeys(int(i) for i in ids))
    if not wanted:
        raise HoursError("name at least one entry id")
    found = {
        e.id: e
        for e in HourEntry.select(HourEntry, Account)
        .join(Account)
        .where((Account.site == site.id) & HourEntry.id.in_(wanted))
    }
    missing = [i for i in wanted if i not in found or found[i].deleted]
    if missing:
        listed = ", ".join(str(i) for i in missing)
        raise HoursError(f"site {site.name!r} has no entry {listed} (nothing was changed)")
    return [found[i] for i in wanted]


def add_entry(
    site: Site,
    *,
    email: str,
    day: date | str,
    hours: float | str,
    description: str,
    verifier: str | None = None,
    approved_by: str | None = None,
) -> HourEntry:
    """Add an entry; with ``approved_by`` it is approved (and enqueued) at once."""
    account = _account(site, email)
    try:
        entry_date = parse_date(day) if isinstance(day, str) else day
        entry_hours = parse_hours(hours)
        text = parse_description(description)
    except ValueError as err:
        raise HoursError(f"{account.email}: {err}") from None
    with write_transaction():
        entry = _create(account, entry_date, entry_hours, text, verifier, approved_by)
        enqueue_entry(site, entry, account)
    return entry


def _create(
    account: Account,
    day: date,
    hours: float,
    description: str,
    verifier: str | None,
    approved_by: str | None,
    status: str | None = None,
) -> HourEntry:
    status = status or ("approved" if approved_by else "pending")
    now = utcnow()
    entry: HourEntry = HourEntry.create(
        account=account.id,
        date=day,
        hours=hours,
        description=description,
        verifier=clean_text(verifier) or None,
        status=status,
        approved_by=(clean_text(approved_by) or "site admin") if status == "approved" else None,
        approved_at=now if status == "approved" else None,
        created_at=now,
        updated_at=now,
    )
    return entry


def _set_status(site: Site, ids: Iterable[int], status: str, by: str | None) -> list[HourEntry]:
    with write_transaction():
        entries = _entries(site, ids)
        now = utcnow()
        for entry in entries:
            if entry.status == status:
                continue
            entry.status = status
            entry.approved_by = (clean_text(by) or "site admin") if status == "approved" else None
            entry.approved_at = now if status == "approved" else None
            entry.updated_at = now
            entry.save()
            enqueue_entry(site, entry, entry.account)
    return entries


def approve(site: Site, ids: Iterable[int], *, by: str) -> list[HourEntry]:
    """Approve entries; those of linked accounts are enqueued for FACTS in the same transaction."""
    return _set_status(site, ids, "approved", by)


def reject(site: Site, ids: Iterable[int]) -> list[HourEntry]:
    """Reject entries; one already written to FACTS is withdrawn there (hours set to 0)."""
    return _set_status(site, ids, "rejected", None)


def unapprove(site: Site, ids: Iterable[int]) -> list[HourEntry]:
    """Back to pending; one already written to FACTS is withdrawn there."""
    return _set_status(site, ids, "pending", None)


def edit_entry(
    site: Site,
    entry_id: int,
    *,
    day: date | str | None = None,
    hours: float | str | None = None,
    description: str | None = None,
) -> HourEntry:
    """Change an entry; if FACTS already holds it, the change is PATCHed there."""
    with write_transaction():
        (entry,) = _entries(site, [entry_id])
        try:
            if day is not None:
                entry.date = parse_date(day) if isinstance(day, str) else day
            if hours is not None:
                entry.hours = parse_hours(hours)
            if description is not None:
                entry.description = parse_description(description)
        except ValueError as err:
            raise HoursError(f"entry {entry.id}: {err}") from None
        entry.updated_at = utcnow()
        entry.save()
        enqueue_entry(site, entry, entry.account)
    return entry


def delete_entry(site: Site, entry_id: int) -> HourEntry:
    """Delete an entry (kept, marked deleted); one already in FACTS is withdrawn there."""
    with write_transaction():
        (entry,) = _entries(site, [entry_id])
        entry.deleted = True
        entry.updated_at = utcnow()
        entry.save()
        enqueue_entry(site, entry, entry.account)
    return entry


# --- CSV import --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class ImportResult:
    imported: list[int] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    duplicates: list[LineError] = field(default_factory=list)
    """Rows identical to an entry already on the site (a file imported twice): skipped."""
    enqueued: int = 0
    stopped: bool = False
    """Nothing was imported because of the errors (a bad header, or bad lines without
    ``skip_bad_lines``)."""
    planned: list[_Row] = field(default_factory=list)
    """``dry_run``: the rows that would be imported."""

    def to_json(self) -> dict[str, Any]:
        return {
            "stopped": self.stopped,
            "imported": len(self.imported),
            "entryIds": self.imported,
            "enqueued": self.enqueued,
            "errors": [{"line": e.line, "message": e.message} for e in self.errors],
            "duplicates": [{"line": e.line, "message": e.message} for e in self.duplicates],
        }


@dataclass(frozen=True)
class _Row:
    line: int
    account: Account
    day: date
    hours: float
    description: str
    status: str


def _csv_problem(error: csv.Error, start: int, end: int) -> str:
    """A csv module error in an admin's words, naming the lines involved."""
    text = str(error)
    span = f" (lines {start}-{end} were read as one record)" if end > start else ""
    if "field larger than field limit" in text:
        return f"a field is longer than {csv.field_size_limit():,} characters{span}"
    if "unexpected end of data" in text:
        return f"a quote opened here is never closed{span}"
    if "expected after" in text:
        return f"text follows a closing quote: check the quotes{span}"
    return f"cannot be read as CSV ({text}){span}"


def _swallowed(values: list[str], columns: int) -> bool:
    """A quoted field that ran over lines which look like rows of their own: an unbalanced quote
    (a real multi-line description has no such lines)."""
    for value in values:
        for line in value.splitlines()[1:]:
            if line.count(",") >= columns - 1:
                return True
    return False


def _header_errors(names: list[str]) -> list[LineError]:
    errors: list[LineError] = []
    counts = {n: names.count(n) for n in names}
    doubled = [n for n, c in counts.items() if c > 1]
    if doubled:
        errors.append(LineError(1, f"the header names column(s) {', '.join(doubled)} twice"))
    unknown = [n or "(blank)" for n in counts if n not in CSV_COLUMNS]
    if unknown:
        errors.append(
            LineError(
                1,
                f"unknown column(s) {', '.join(unknown)} (expected {','.join(CSV_COLUMNS)})",
            )
        )
    missing = [c for c in CSV_COLUMNS if c not in names]
    if missing:
        errors.append(LineError(1, f"the header lacks column(s) {', '.join(missing)}"))
    return errors


def _read_rows(text: str) -> tuple[list[tuple[int, dict[str, str]]], list[LineError], bool]:
    """Rows by first line number, every malformed line, and whether the header itself is bad."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return [], [LineError(1, "the file is empty (expected a header: " + ",".join(CSV_COLUMNS) + ")")], True
    except csv.Error as err:
        return [], [LineError(1, f"the header {_csv_problem(err, 1, reader.line_num)}")], True
    names = [h.strip().casefold() for h in header]
    errors = _header_errors(names)
    if errors:
        return [], errors, True
    rows: list[tuple[int, dict[str, str]]] = []
    line = reader.line_num
    while True:
        start = line + 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            line = reader.line_num
            errors.append(LineError(start, _csv_problem(err, start, line)))
            continue
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if line > start and _swallowed(values, len(names)):
            errors.append(
                LineError(
                    start,
                    f"a quote opened here is not closed on this line: lines {start}-{line} were "
                    "read as one record (check the quotes)",
                )
            )
            continue
        if len(values) > len(names):
            errors.append(LineError(start, f"{len(values)} fields, the header has {len(names)}"))
            continue
        padded = values + [""] * (len(names) - len(values))
        rows.append((start, dict(zip(names, padded, strict=True))))
    return rows, errors, False


def _validate(site: Site, line: int, raw: dict[str, str], accounts: dict[str, Account]) -> _Row:
    email = raw["email"].strip()
    if not email:
        raise ValueError("email is empty")
    account = accounts.get(email_key(email) or "")
    if account is None:
        raise ValueError(f"site {site.name!r} has no account with email {email!r}")
    return _Row(
        line,
        account,
        parse_date(raw["date"]),
        parse_hours(raw["hours"]),
        parse_description(raw["description"]),
        parse_status(raw["status"]),
    )


def import_csv(
    site: Site,
    text: str,
    *,
    approved_by: str,
    skip_bad_lines: bool = False,
    strict: bool = True,
    dry_run: bool = False,
) -> ImportResult:
    """Import entries from CSV text (columns email,date,hours,description,status).

    Every malformed line (unbalanced quotes, over-long fields) and every bad row is reported by
    line number, and a file with any of them imports nothing, unless ``skip_bad_lines``: then the
    good rows are imported and the bad ones skipped. A bad header (duplicate, unknown or missing
    columns) always imports nothing. Good rows are written in one transaction, so a file is never
    half-imported. A row identical to an existing entry (same account, date, hours, description)
    is skipped, so importing a corrected file again does not double the good rows. (``strict``
    is the default; ``strict=False`` is the same as ``skip_bad_lines=True``.) ``dry_run`` writes
    nothing and lists the rows that would be imported in ``planned``.
    """
    skip_bad_lines = skip_bad_lines or not strict
    result = ImportResult()
    raw_rows, result.errors, bad_header = _read_rows(text)
    accounts: dict[str, Account] = {
        str(a.email_key): a
        for a in Account.select().where(
            (Account.site == site.id) & Account.email_key.is_null(False)
        )
    }
    good: list[_Row] = []
    for line, raw in raw_rows:
        try:
            good.append(_validate(site, line, raw, accounts))
        except ValueError as err:
            who = raw.get("email", "").strip()
            result.errors.append(LineError(line, f"{who}: {err}" if who else str(err)))
    result.errors.sort(key=lambda e: e.line)
    if bad_header or (result.errors and not skip_bad_lines):
        result.stopped = True
        return result
    with write_transaction():
        existing = _existing_keys(site, {r.account.id for r in good})
        for row in good:
            key = (row.account.id, row.day, row.hours, row.description)
            if key in existing:
                result.duplicates.append(
                    LineError(row.line, f"{row.account.email}: already on the site (skipped)")
                )
                continue
            existing.add(key)
            if dry_run:
                result.planned.append(row)
                continue
            entry = _create(
                row.account,
                row.day,
                row.hours,
                row.description,
                None,
                approved_by if row.status == "approved" else None,
                row.status,
            )
            result.imported.append(entry.id)
            if enqueue_entry(site, entry, row.account) is not None:
                result.enqueued += 1
    return result


def _existing_keys(site: Site, account_ids: set[int]) -> set[tuple[int, date, float, str]]:
    if not account_ids:
        return set()
    query = (
        HourEntry.select(HourEntry.account, HourEntry.date, HourEntry.hours, HourEntry.description)
        .where(HourEntry.account.in_(sorted(account_ids)) & (HourEntry.deleted == False))  # noqa: E712
        .tuples()
    )
    return {(int(a), d, round(float(h), 2), str(t)) for a, d, h, t in cast(Any, query)}


# --- backfill ----------------------------------------------------------------------------------


def backfill_candidates(site: Site, *, since: date | None = None) -> list[EntryView]:
    """Approved entries of linked accounts that were never enqueued (approved before the link)."""
    query = (
        HourEntry.select(HourEntry.id)
        .join(Account)
        .where(
            (Account.site == site.id)
            & Account.person_id.is_null(False)
            & (HourEntry.status == "approved")
            & (HourEntry.deleted == False)  # noqa: E712
            & ~HourEntry.id.in_(Outbox.select(Outbox.entry))
        )
    )
    if since is not None:
        query = query.where(HourEntry.date >= since)
    ids = {e.id for e in query}
    return sorted(
        (v for v in list_entries(site, status="approved") if v.id in ids),
        key=lambda v: (v.date, v.id),
    )


def backfill(site: Site, entry_ids: Sequence[int]) -> int:
    """Enqueue these (listed) entries; returns how many were enqueued (one insert per 100)."""
    if site.kind not in ("students", "parents"):
        raise HoursError(
            f"site {site.name!r} has no roster kind yet: run a first sync before backfilling"
        )
    from core.writeback.outbox import enqueue_new

    return enqueue_new(site, entry_ids)


def import_candidates(site: Site, rows: Sequence[_Row]) -> tuple[list[Candidate], int]:
    """The planned rows of a dry-run import that would go to FACTS (approved, account linked),
    and how many would not."""
    out: list[Candidate] = []
    for r in rows:
        if r.status != "approved" or r.account.person_id is None:
            continue
        out.append(
            Candidate(
                key=f"line {r.line}",
                entry_id=None,
                email=r.account.email,
                person_id=int(r.account.person_id),
                day=r.day,
                hours=r.hours,
                description=r.description,
                reference=None,
            )
        )
    return out, len(rows) - len(out)


def backfill_forecast_candidates(site: Site, views: Sequence[EntryView]) -> list[Candidate]:
    """Backfill candidates as write-back would see them before their first write."""
    entries = HourEntry.select(HourEntry, Account).join(Account).where(
        HourEntry.id.in_([v.id for v in views])
    )
    candidates, _ = entry_candidates(site, entries)
    return candidates
