"""How a site runs unattended: its archive threshold, its sync schedule, a pause, alert addresses.

Kept in one row per site (``store.models.SiteOptions``), read with defaults when there is none.
Schedules are cron expressions read by ``croniter`` in the server's local time (what an IT person
means by "0 2 * * *"); a sixth field, seconds, is accepted too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from core.sites import SiteError
from core.threshold import ArchiveThreshold, parse_threshold
from store import Store
from store.models import Site, SiteOptions, utcnow

DEFAULT_THRESHOLD = "20%"
__all__ = ["ArchiveThreshold", "parse_threshold"]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Pause:
    until: datetime | None
    """Naive UTC; None: until resumed."""
    reason: str

    def words(self) -> str:
        when = "until resumed"
        if self.until is not None:
            local = _local(self.until)
            when = f"until {local:%Y-%m-%d}" + ("" if (local.hour, local.minute) == (0, 0)
                                                 else f" {local:%H:%M}")
        return f"paused {when}: {self.reason}"

    def to_json(self) -> dict[str, Any]:
        return {"until": self.until.isoformat() if self.until else None, "reason": self.reason}


@dataclass(frozen=True)
class SiteSettings:
    threshold: ArchiveThreshold
    schedule: str | None
    schedule_set_at: datetime | None
    pause: Pause | None
    """The pause in force now (a pause whose date has passed is over)."""
    alert_emails: tuple[str, ...]
    alert_webhook: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "archiveThreshold": self.threshold.text,
            "schedule": self.schedule,
            "paused": self.pause.to_json() if self.pause else None,
            "alerts": {"emails": list(self.alert_emails), "webhook": self.alert_webhook is not None},
        }


def _local(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC).astimezone()


def _row(site: Site) -> SiteOptions:
    row: SiteOptions | None = SiteOptions.get_or_none(SiteOptions.site == site)
    return row if row is not None else SiteOptions(site=site)


def settings(site: Site, now: datetime | None = None) -> SiteSettings:
    row = _row(site)
    now = now or utcnow()
    pause = None
    if row.paused_reason is not None and (row.paused_until is None or row.paused_until > now):
        pause = Pause(row.paused_until, row.paused_reason)
    return SiteSettings(
        threshold=parse_threshold(row.archive_threshold or DEFAULT_THRESHOLD),
        schedule=row.schedule,
        schedule_set_at=row.schedule_set_at,
        pause=pause,
        alert_emails=tuple(json.loads(row.alert_emails or "[]")),
        alert_webhook=row.alert_webhook,
    )


def _save(store: Store, site: Site, row: SiteOptions, summary: str) -> None:
    """Save the options and the event of the change (``summary`` in words) together."""
    from core import events

    with store.db.atomic():
        row.save()
        events.record(store, site, "options", summary)


def set_threshold(store: Store, site: Site, text: str) -> ArchiveThreshold:
    try:
        threshold = parse_threshold(text)
    except ValueError as err:
        raise SiteError(str(err)) from None
    row = _row(site)
    row.archive_threshold = threshold.text
    _save(store, site, row, f"archive threshold {threshold.text}")
    return threshold


def check_schedule(expr: str) -> str:
    """The expression, trimmed, if croniter can read it; a clear refusal otherwise."""
    from croniter import croniter

    expr = " ".join(expr.split())
    if not croniter.is_valid(expr):
        raise SiteError(
            f"schedule {expr!r} is not a cron expression: write five fields, minute hour "
            "day-of-month month day-of-week, e.g. \"0 2 * * *\" for 02:00 every night"
        )
    return expr


def set_schedule(store: Store, site: Site, expr: str | None) -> str | None:
    """Save the site's sync schedule (None or "" removes it)."""
    row = _row(site)
    row.schedule = check_schedule(expr) if expr else None
    row.schedule_set_at = utcnow() if row.schedule else None
    _save(store, site, row, f"schedule {row.schedule}" if row.schedule else "schedule removed")
    return row.schedule


def next_run(expr: str, after: datetime) -> datetime:
    """The first schedule point after ``after`` (both naive UTC), evaluated in local time."""
    from croniter import croniter

    nxt: datetime = croniter(expr, _local(after)).get_next(datetime)
    return nxt.astimezone(UTC).replace(tzinfo=None)


def last_point(expr: str, now: datetime) -> datetime:
    """The latest schedule point at or before ``now`` (naive UTC)."""
    from croniter import croniter

    prev: datetime = croniter(expr, _local(now)).get_prev(datetime)
    return prev.astimezone(UTC).replace(tzinfo=None)


def parse_until(text: str) -> datetime:
    """``YYYY-MM-DD`` (the pause ends at the start of that day, local time) or an ISO time."""
    try:
        if len(text.strip()) == 10:
            local = datetime.combine(date.fromisoformat(text.strip()), time()).astimezone()
        else:
            parsed = datetime.fromisoformat(text.strip())
            local = parsed if parsed.tzinfo else parsed.astimezone()
    except ValueError:
        raise SiteError(f"--until {text!r}: write a date as YYYY-MM-DD") from None
    return local.astimezone(UTC).replace(tzinfo=None)


def pause(store: Store, site: Site, until: datetime | None, reason: str) -> Pause:
    reason = " ".join(reason.split())
    if not reason:
        raise SiteError("a pause needs a reason (--reason), shown to everyone who runs a sync")
    if until is not None and until <= utcnow():
        raise SiteError("the pause would already be over: give a date in the future")
    row = _row(site)
    row.paused_until, row.paused_reason = until, reason
    paused = Pause(until, reason)
    _save(store, site, row, paused.words())
    return paused


def resume(store: Store, site: Site) -> bool:
    """End the pause; False when the site was not paused."""
    row = _row(site)
    was = settings(site).pause is not None
    row.paused_until, row.paused_reason = None, None
    if was:
        _save(store, site, row, "resumed: the site syncs again")
    return was


def set_alerts(store: Store, site: Site, emails: list[str] | None,
               webhook: str | None) -> SiteSettings:
    """Save the alert addresses (None leaves a setting as it is; [] or "" clears it)."""
    row = _row(site)
    if emails is not None:
        for e in emails:
            if not _EMAIL.match(e.strip()):
                raise SiteError(f"alert email {e!r} is not an email address")
        row.alert_emails = json.dumps(sorted({e.strip() for e in emails}))
    if webhook is not None:
        hook = webhook.strip()
        if hook and not hook.startswith(("http://", "https://")):
            raise SiteError(f"webhook {hook[:40]!r}: give an http:// or https:// URL")
        row.alert_webhook = hook or None
    listed = ", ".join(json.loads(row.alert_emails)) or "none"
    said = [] if emails is None else [f"alert emails {listed}"]
    if webhook is not None:  # the URL itself may hold a token: never in the trail
        said.append("alert webhook " + ("set" if row.alert_webhook else "removed"))
    _save(store, site, row, "; ".join(said) or "alerts saved")
    return settings(site)
