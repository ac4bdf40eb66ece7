"""``writeback audit``: the store against FACTS, the witness. Reads only; changes nothing.

Every FACTS ServiceHours row of the site's people (linked now, or written under before) is
compared with the site's entries. A difference is one of:

* ``missing``: the store says FACTS holds the entry (or it is approved and never queued while
  hour syncing is on), and FACTS has no such row;
* ``unknown-row``: FACTS holds a row with a factsync reference that no entry of this store has;
* ``duplicate``: FACTS holds more than one row, counting hours, with one entry's reference;
* ``differs``: the entry's FACTS row holds other hours or another date than the entry;
* ``withdrawn-counted``: the entry is rejected, deleted or back to pending, and its FACTS row
  still counts hours.

Entries still queued are counted, not differences: the worker sends them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import httpx
import peewee as pw

from core.facts.models import StudentServiceHoursModel as Row
from core.writeback.reconcile import row_date, same_hours
from core.writeback.rules import desired_state, differs, reference_of
from core.writeback.witness import linked_people, open_site_client, read_rows, site_kind
from store import Store
from store.models import Account, HourEntry, Outbox, Site

DiffKind = Literal["missing", "unknown-row", "duplicate", "differs", "withdrawn-counted"]
CSV_COLUMNS = (
    "kind", "entryId", "email", "personId", "serviceHoursId", "date", "hours", "factsDate",
    "factsHours", "detail",
)


@dataclass(frozen=True)
class Difference:
    kind: DiffKind
    detail: str
    entry_id: int | None = None
    email: str | None = None
    person_id: int | None = None
    service_hours_id: int | None = None
    date: dt.date | None = None
    hours: float | None = None
    facts_date: dt.date | None = None
    facts_hours: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "entryId": self.entry_id,
            "email": self.email,
            "personId": self.person_id,
            "serviceHoursId": self.service_hours_id,
            "date": self.date.isoformat() if self.date else None,
            "hours": self.hours,
            "factsDate": self.facts_date.isoformat() if self.facts_date else None,
            "factsHours": self.facts_hours,
            "detail": self.detail,
        }

    def line(self) -> str:
        who = f"entry {self.entry_id} ({self.email or '-'})" if self.entry_id else "FACTS"
        row = f" row {self.service_hours_id}" if self.service_hours_id else ""
        return f"{self.kind}: {who}{row}: {self.detail}"


@dataclass
class AuditReport:
    site: str
    rows_read: int = 0
    entries_checked: int = 0
    agreeing: int = 0
    queued: int = 0
    facts_only: int = 0
    """FACTS rows without a factsync reference that no entry holds (entered in FACTS)."""
    differences: list[Difference] = field(default_factory=list)

    @property
    def agrees(self) -> bool:
        return not self.differences

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for d in self.differences:
            out[d.kind] += 1
        return dict(out)

    def to_json(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "agrees": self.agrees,
            "rowsRead": self.rows_read,
            "entriesChecked": self.entries_checked,
            "agreeing": self.agreeing,
            "queued": self.queued,
            "factsOnly": self.facts_only,
            "counts": self.counts(),
            "differences": [d.to_json() for d in self.differences],
        }

    def csv_text(self) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for d in self.differences:
            j = d.to_json()
            writer.writerow(["" if j[c] is None else _safe_cell(str(j[c])) for c in CSV_COLUMNS])
        return buf.getvalue()


def _safe_cell(value: str) -> str:
    """Text from FACTS is untrusted: a cell a spreadsheet would run as a formula is quoted."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


async def audit(
    store: Store, site: Site, *, transport: httpx.AsyncBaseTransport | None = None
) -> AuditReport:
    """Compare the site's entries with FACTS's rows (see the module doc)."""
    site = Site.get_by_id(site.id)
    kind = site_kind(site)
    report = AuditReport(site.name)
    entries = list(
        HourEntry.select(HourEntry, Account, Outbox)
        .join(Account)
        .switch(HourEntry)
        .join(Outbox, pw.JOIN.LEFT_OUTER, on=(Outbox.entry == HourEntry.id), attr="wb")
        .where(Account.site == site.id)
        .order_by(HourEntry.id)
    )
    people = set(linked_people(site))
    people |= {
        int(o.person_id) for e in entries if (o := _outbox(e)) is not None and o.person_id
    }
    async with open_site_client(store, site, transport) as client:
        rows = await read_rows(client, kind, people)
    report.rows_read = len(rows)
    by_id = {int(r.serviceHoursId): r for r in rows}
    by_ref: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        ref = reference_of(r.note)
        if ref is not None:
            by_ref[ref].append(r)
    seen: set[int] = set()
    for e in entries:
        _check_entry(site, e, by_id, by_ref, seen, report)
    claimed = _claimed(kind)
    for r in rows:
        sid = int(r.serviceHoursId)
        if sid in seen or sid in claimed[0]:
            continue
        ref = reference_of(r.note)
        if ref is None:
            report.facts_only += 1
        elif ref not in claimed[1]:
            report.differences.append(Difference(
                "unknown-row", f"FACTS holds a row with factsync reference {ref} that no entry "
                "of this store has", person_id=r.personId, service_hours_id=sid,
                facts_date=row_date(r), facts_hours=r.hours,
            ))
    return report


def _outbox(e: HourEntry) -> Outbox | None:
    row = getattr(e, "wb", None)
    return row if isinstance(row, Outbox) and row.id is not None else None


def _claimed(kind: str) -> tuple[set[int], set[str]]:
    """FACTS row ids and references every outbox row of this store (any site) holds."""
    ids: set[int] = set()
    refs: set[str] = set()
    for sid, ref in cast(Any, Outbox.select(Outbox.service_hours_id, Outbox.reference)
                         .where(Outbox.resource == kind).tuples()):
        refs.add(str(ref))
        if sid is not None:
            ids.add(int(sid))
    return ids, refs


def _check_entry(
    site: Site,
    e: HourEntry,
    by_id: dict[int, Row],
    by_ref: dict[str, list[Row]],
    seen: set[int],
    report: AuditReport,
) -> None:
    account: Account = e.account
    o = _outbox(e)
    want = desired_state(
        reference=o.reference if o else "", site_name=site.name, person_id=account.person_id,
        day=e.date, hours=e.hours, description=e.description, status=e.status,
        deleted=e.deleted, approved_by=e.approved_by, verifier=e.verifier,
    )
    base: dict[str, Any] = {
        "entry_id": e.id, "email": account.email, "date": e.date,
        "hours": round(float(e.hours), 2) if want.live else 0.0,
    }
    if o is None:
        if want.live and account.person_id is not None and site.hour_sync:
            report.entries_checked += 1
            report.differences.append(Difference(
                "missing", "approved but never queued for FACTS ('factsync hours backfill' "
                "sends it)", person_id=account.person_id, **base))
        return
    report.entries_checked += 1
    group = by_ref.get(o.reference, [])
    row = by_id.get(int(o.service_hours_id)) if o.service_hours_id is not None else None
    if row is None and group and o.service_hours_id is None:
        row = min(group, key=lambda r: r.serviceHoursId)
    seen.update(int(r.serviceHoursId) for r in group)
    if row is not None:
        seen.add(int(row.serviceHoursId))
    settled = o.state == "sent"
    if not settled:
        report.queued += 1
    if row is None:
        if settled and want.live:
            report.differences.append(Difference(
                "missing", f"the store recorded FACTS row {o.service_hours_id} for it; FACTS "
                "has no such row", person_id=o.person_id or account.person_id,
                service_hours_id=o.service_hours_id, **base))
        elif settled:
            report.agreeing += 1
        return
    facts: dict[str, Any] = {"service_hours_id": int(row.serviceHoursId), "person_id": row.personId,
             "facts_date": row_date(row), "facts_hours": row.hours}
    extra = [r for r in group if r is not row and not same_hours(r.hours, 0.0)]
    if extra:
        report.differences.append(Difference(
            "duplicate", f"FACTS holds {len(extra) + 1} rows with its reference (also "
            + ", ".join(str(r.serviceHoursId) for r in extra) + ")", **base, **facts))
    if not settled:
        return
    if not want.live and not same_hours(row.hours, 0.0):
        report.differences.append(Difference(
            "withdrawn-counted", f"the entry is {'deleted' if e.deleted else e.status}; FACTS "
            f"still counts {row.hours:g} h", **base, **facts))
    elif want.live and (gap := differs(row, want)) is not None:
        report.differences.append(Difference("differs", f"FACTS holds {gap}", **base, **facts))
    elif not extra:
        report.agreeing += 1
