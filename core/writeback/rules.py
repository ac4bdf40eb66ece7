"""Pure decisions of write-back: what FACTS should hold for an entry, and what to do about it.

No I/O here: the worker loads rows, asks these functions, and performs the answer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from core.facts.models import StudentServiceHoursModel
from core.sync.text import clean_text

MAX_TEXT = 255
"""FACTS keeps at most 255 characters of ``description`` and ``note``."""


@dataclass(frozen=True)
class Desired:
    """The FACTS row an entry should be: live (approved, not deleted) or withdrawn (0 hours)."""

    person_id: int | None
    date: date
    hours: float
    description: str
    note: str
    verified_by: str | None
    live: bool

    def body(self) -> StudentServiceHoursModel:
        return StudentServiceHoursModel(
            serviceHoursId=0,
            personId=self.person_id,
            description=self.description,
            hours=self.hours,
            date=datetime(self.date.year, self.date.month, self.date.day, tzinfo=UTC),
            note=self.note,
            verifiedBy=self.verified_by,
        )


def facts_date(day: date) -> str:
    """FACTS writes calendar dates as midnight UTC."""
    return f"{day.isoformat()}T00:00:00Z"


def _fit(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def note_for(reference: str, site_name: str, *, live: bool, why: str = "") -> str:
    """The reference first (the dedupe key), then a sentence for whoever reads it in FACTS."""
    site = clean_text(site_name, max_len=80)
    if live:
        return _fit(f"{reference} volunteer hours approved on {site} (factsync)")
    return _fit(f"{reference} WITHDRAWN: {why or 'entry withdrawn'} on {site} (factsync)")


def desired_state(
    *,
    reference: str,
    site_name: str,
    person_id: int | None,
    day: date,
    hours: float,
    description: str,
    status: str,
    deleted: bool,
    approved_by: str | None,
    verifier: str | None,
) -> Desired:
    live = status == "approved" and not deleted
    why = "entry deleted" if deleted else f"entry {status}, no longer approved"
    return Desired(
        person_id=person_id,
        date=day,
        hours=round(float(hours), 2) if live else 0.0,
        description=_fit(clean_text(description, max_len=10_000)),
        note=note_for(reference, site_name, live=live, why=why),
        verified_by=clean_text(approved_by or verifier or "", max_len=100) or None,
        live=live,
    )


def reference_of(note: str | None) -> str | None:
    """The factsync reference a FACTS note starts with, if any."""
    if not note:
        return None
    first = note.strip().split(maxsplit=1)
    return first[0] if first and first[0].startswith("factsync:") else None


def matches(row: StudentServiceHoursModel, want: Desired) -> bool:
    """FACTS already holds what the entry says (hours, date, description, note)."""
    return (
        row.hours is not None
        and abs(float(row.hours) - want.hours) < 1e-6
        and row.date is not None
        and row.date.date() == want.date
        and (row.description or "").strip() == want.description.strip()
        and (row.note or "").strip() == want.note.strip()
    )


def patch_ops(want: Desired) -> list[dict[str, Any]]:
    """JSON Patch bringing a FACTS row to ``want`` (there is no DELETE: withdrawal is 0 hours)."""
    return [
        {"op": "replace", "path": "/hours", "value": want.hours},
        {"op": "replace", "path": "/date", "value": facts_date(want.date)},
        {"op": "replace", "path": "/description", "value": want.description},
        {"op": "replace", "path": "/note", "value": want.note},
    ]


Action = Literal["sent", "patch", "post", "drop", "wait", "mismatch"]


@dataclass(frozen=True)
class Decision:
    action: Action
    service_hours_id: int | None = None
    reason: str = ""


def differs(row: StudentServiceHoursModel, want: Desired) -> str | None:
    """How a FACTS row's hours or date differ from what the entry says (None: they agree)."""
    parts = []
    if row.hours is None or abs(float(row.hours) - want.hours) >= 1e-6:
        parts.append(f"{row.hours if row.hours is not None else 'no'} h, the entry {want.hours:g} h")
    day = row.date.date() if row.date is not None else None
    if day != want.date:
        parts.append(f"date {day or 'none'}, the entry {want.date}")
    return "; ".join(parts) or None


def decide(
    *,
    state: str,
    operation: str,
    service_hours_id: int | None,
    found: StudentServiceHoursModel | None,
    hand: bool,
    want: Desired,
    sent_hours: float | None,
    sent_date: date | None,
    outcome_unknown: bool = False,
) -> Decision:
    """What to do with one claimed outbox row, given the FACTS row a look-up found (if any).

    A FACTS row that differs from the entry is brought to it (PATCH) when the difference is
    expected: the entry was edited or withdrawn since the row was written, so FACTS holds what
    this store sent (or the row is the answer to this store's own POST). Otherwise FACTS holds something this store never sent (someone edited it
    in FACTS, or a restored store lost a later edit): that is a *mismatch*, kept and reported
    for a person to settle, never overwritten.
    """
    if found is not None:
        sid = int(found.serviceHoursId)
        if hand or matches(found, want):
            return Decision("sent", sid)
        gap = differs(found, want)
        as_sent = state == "inflight" or (outcome_unknown and sent_hours is None) or (
            sent_hours is not None
            and found.hours is not None
            and abs(float(found.hours) - sent_hours) < 1e-6
            and found.date is not None
            and found.date.date() == sent_date
        )
        if gap is None or as_sent or operation != "create":
            return Decision("patch", sid)
        return Decision("mismatch", sid, f"FACTS row {sid} holds {gap}")
    if service_hours_id is not None:
        return Decision("patch", service_hours_id)
    if state == "inflight":
        return Decision("wait", None, "FACTS accepted the row but a read-back does not show it yet")
    if not want.live:
        return Decision("drop", None, "not in FACTS and no longer approved")
    if want.person_id is None:
        return Decision("drop", None, "not in FACTS and the account is no longer linked")
    return Decision("post")


def backoff_seconds(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential back-off with jitter: base, 2*base, 4*base ... capped."""
    ceiling = min(cap, base * 2.0 ** max(attempt - 1, 0))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)
