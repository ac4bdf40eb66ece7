"""How a site runs unattended, at a glance: schedule, last and next run, holds, pause, the last
outcome of each job, and the daemons alive. ``status`` (one site or ``--all``) and Home show it.

Light on purpose (cron health checks call ``status`` often): store queries and croniter only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.site_settings import Pause, next_run, settings
from store.models import Heartbeat, Hold, JobState, Site, utcnow

DAEMON_STALE = timedelta(minutes=2)


@dataclass(frozen=True)
class JobView:
    job: str
    last_at: datetime | None
    code: int | None
    message: str | None

    def to_json(self) -> dict[str, Any]:
        return {"lastAt": self.last_at.isoformat() if self.last_at else None,
                "exitCode": self.code, "message": self.message}


@dataclass(frozen=True)
class Unattended:
    schedule: str | None
    next_run: datetime | None
    archive_threshold: str
    pause: Pause | None
    open_holds: int
    held_rows: int
    hold_reason: str | None
    jobs: dict[str, JobView]

    @property
    def last_error(self) -> str | None:
        """The latest job that failed, in words (None: the latest runs went through)."""
        failed = [j for j in self.jobs.values() if j.code == 1 and j.message]
        failed.sort(key=lambda j: j.last_at or datetime.min, reverse=True)
        return f"{failed[0].job}: {failed[0].message}" if failed else None

    def to_json(self) -> dict[str, Any]:
        return {
            "schedule": self.schedule,
            "nextRun": self.next_run.isoformat() if self.next_run else None,
            "archiveThreshold": self.archive_threshold,
            "paused": self.pause.to_json() if self.pause else None,
            "holds": {"open": self.open_holds, "rows": self.held_rows, "reason": self.hold_reason},
            "lastRuns": {name: j.to_json() for name, j in self.jobs.items()},
            "lastError": self.last_error,
        }


def unattended(site: Site, now: datetime | None = None) -> Unattended:
    import json

    now = now or utcnow()
    cfg = settings(site, now)
    holds = list(Hold.select().where((Hold.site == site) & (Hold.state == "open"))
                 .order_by(Hold.id.desc()))
    jobs = {
        j.job: JobView(j.job, j.last_at, j.last_code, j.last_message)
        for j in JobState.select().where(JobState.site == site)
    }
    return Unattended(
        schedule=cfg.schedule,
        next_run=next_run(cfg.schedule, now) if cfg.schedule else None,
        archive_threshold=cfg.threshold.text,
        pause=cfg.pause,
        open_holds=len(holds),
        held_rows=sum(len(json.loads(h.rows or "[]")) for h in holds),
        hold_reason=holds[0].reason if holds else None,
        jobs=jobs,
    )


@dataclass(frozen=True)
class DaemonView:
    holder: str
    started_at: datetime
    beat_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"holder": self.holder, "startedAt": self.started_at.isoformat(),
                "heartbeatAt": self.beat_at.isoformat()}


def daemons(now: datetime | None = None) -> list[DaemonView]:
    """Daemons that beat in the last two minutes, newest first."""
    now = now or utcnow()
    return [DaemonView(h.holder, h.started_at, h.beat_at)
            for h in Heartbeat.select().where(Heartbeat.beat_at >= now - DAEMON_STALE)
            .order_by(Heartbeat.beat_at.desc())]
