"""``factsync daemon``: every site's scheduled sync and continuous write-back, with alerts.

One loop, one tick a second (a fake clock in tests):

- a heartbeat row says the daemon is alive (``status --all`` shows it);
- each site with a schedule whose latest point has not been served yet runs its sync (a point
  missed while the daemon was down runs once when it starts, not once per missed night), under
  the site's lease, so two daemons on one store never sync one site at once (the second one
  skips, and the point counts as served by the first);
- each site whose write-back is on and owes FACTS something gets a drain;
- after each run the alerts (``core.alerts``): one per new condition, one on recovery.

SIGTERM (or SIGINT) stops the loop: a FACTS read in flight is cancelled (nothing was written);
a sync's transaction is never interrupted, because applying a plan has no await inside it; a
write-back drain stops between requests. The daemon then exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from core import alerts, jobs, site_settings
from store import Store
from store.models import Heartbeat, JobState, Site, utcnow

BEAT = timedelta(seconds=10)
"""How often the heartbeat row is written (``status --all`` calls a daemon gone after 2 min)."""

Clock = Callable[[], datetime]
Log = Callable[[str], None]


@dataclass
class Daemon:
    store: Store
    log: Log
    clock: Clock = utcnow
    tick_s: float = 1.0
    transport: httpx.AsyncBaseTransport | None = None
    writeback_every_s: float = 10.0
    """How often a site's outbox is looked at (the worker sends what is due)."""
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    _last_writeback: dict[int, float] = field(default_factory=dict)
    holder: str = ""
    _beat_at: datetime | None = None

    async def run(self) -> int:
        """Run until stopped; returns the exit code (0)."""
        from store.leases import whoami

        self.holder = f"{whoami()}:{os.getpid()}"
        self._beat(started=True)
        self.log(f"daemon {self.holder} started on {self.store.path}")
        try:
            while not self.stop.is_set():
                try:
                    await self._tick()
                except jobs.user_errors() as err:  # a busy store, a refusal: the next tick
                    self.log(f"error: {jobs.describe(err)}")
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), self.tick_s)
        finally:
            Heartbeat.delete().where(Heartbeat.holder == self.holder).execute()
            self.log(f"daemon {self.holder} stopped")
        return 0

    async def _tick(self) -> None:
        self._beat()
        for site in list(Site.select().order_by(Site.name)):
            if self.stop.is_set():
                return
            await self._guarded(self._scheduled_sync(site))
            if self.stop.is_set():
                return
            await self._writeback(site)  # it stops by itself between requests

    async def _guarded(self, work: Coroutine[Any, Any, None]) -> None:
        """Run one job as a task: a stop cancels it at its next await (a FACTS read), which
        never lands inside a transaction."""
        task = asyncio.ensure_future(work)
        stopper = asyncio.ensure_future(self.stop.wait())
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    def _beat(self, started: bool = False) -> None:
        """Say the daemon is alive (at most every ``BEAT_S``: a write a second would be noise)."""
        now = self.clock()
        if not started and self._beat_at is not None and now - self._beat_at < BEAT:
            return
        self._beat_at = now
        with Site._meta.database.atomic("IMMEDIATE"):
            row: Heartbeat | None = Heartbeat.get_or_none(Heartbeat.holder == self.holder)
            if row is None:
                Heartbeat.create(holder=self.holder, host=socket.gethostname(), pid=os.getpid(),
                                 started_at=now, beat_at=now)
            else:
                row.beat_at = now
                row.save()

    # --- scheduled sync ---------------------------------------------------------------------

    def due(self, site: Site, now: datetime) -> datetime | None:
        """The schedule point the site's sync should serve now, or None."""
        cfg = site_settings.settings(site, now)
        if cfg.schedule is None or cfg.pause is not None:
            return None
        point = site_settings.last_point(cfg.schedule, now)
        if cfg.schedule_set_at is not None and point < cfg.schedule_set_at:
            return None  # the schedule was set after its latest point: wait for the next one
        state: JobState | None = JobState.get_or_none(
            (JobState.site == site) & (JobState.job == "sync"))
        if state is not None and state.scheduled_at is not None and state.scheduled_at >= point:
            return None
        return point

    async def _scheduled_sync(self, site: Site) -> None:
        from core.sync.service import SiteBusy, sync_lease

        now = self.clock()
        point = self.due(site, now)
        if point is None:
            return
        try:
            with sync_lease(site):  # held from the first line logged to the last
                self.log(f"{site.name}: scheduled sync ({point:%Y-%m-%d %H:%M:%S} UTC) starts")
                outcome = await jobs.run_sync(self.store, site.name, transport=self.transport)
                self._served(site, point)
                self.log(f"{site.name}: scheduled sync ends (exit {outcome.code})")
        except SiteBusy as err:
            self._served(site, point)  # the process that holds the lease serves this point
            self.log(f"{site.name}: sync skipped: {err}")
            return
        self._report(outcome)

    def _served(self, site: Site, point: datetime) -> None:
        with Site._meta.database.atomic("IMMEDIATE"):
            row: JobState | None = JobState.get_or_none(
                (JobState.site == site) & (JobState.job == "sync"))
            if row is None:
                JobState.create(site=site, job="sync", scheduled_at=point)
            elif row.scheduled_at is None or row.scheduled_at < point:
                row.scheduled_at = point
                row.save()

    # --- write-back ----------------------------------------------------------------------------

    def _owes(self, site: Site) -> bool:
        from core.writeback.status import outbox_counts, writeback_state

        enabled, _ = writeback_state(site)  # hour syncing off: nothing is owed, nothing logged
        return enabled and bool(site.hour_sync) and outbox_counts(site)["pending"] > 0

    async def _writeback(self, site: Site) -> None:
        loop = asyncio.get_running_loop()
        last = self._last_writeback.get(site.id)
        if last is not None and loop.time() - last < self.writeback_every_s:
            return
        self._last_writeback[site.id] = loop.time()
        if site.plan != "advanced" or not self._owes(site):
            return
        outcome = await jobs.run_writeback(self.store, site.name, stop=self.stop,
                                           transport=self.transport)
        self._report(outcome)

    def _report(self, outcome: jobs.JobOutcome) -> None:
        for line in outcome.lines:
            self.log(line)
        for warning in alerts.after_run(self.store, outcome):
            self.log(f"warning: {warning}")


def run_daemon(store: Store, log: Log, *, tick_s: float = 1.0, writeback_s: float = 10.0) -> int:
    """Run the daemon in this process until SIGTERM or SIGINT."""

    async def main() -> int:
        daemon = Daemon(store, log, tick_s=tick_s, writeback_every_s=writeback_s)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, daemon.stop.set)
        return await daemon.run()

    return asyncio.run(main())
