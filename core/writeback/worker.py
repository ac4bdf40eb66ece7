"""The write-back worker: drains a site's outbox into FACTS ServiceHours, exactly once.

FACTS has no DELETE, so a duplicate is permanent, and FACTS is the witness of what was written:
the store can go backwards (a restored backup, an undo) and FACTS can hold rows factsync never
wrote. So:

* Rows are *claimed* with one UPDATE in a write transaction, with a lease, so two workers on one
  store never hold the same row; every later write is fenced by the batch's claim token. A claim
  held by a process of this host that no longer exists is released at once.
* Before an entry's first write the worker reads its person's FACTS rows (``personId==a|b|c``,
  150 people a request, ``x-bypass-cache``) and adopts the row carrying the entry's reference,
  else a row entered by hand with the same date, hours and description, else POSTs
  (``core.writeback.reconcile``). A found row's id is stored before anything else is done with it.
* Before a POST the row is committed ``outcome_unknown`` ("may be in FACTS"); no error ever
  clears that, only a look-up that finds the row (or a refusal of that very POST). A 201 turns
  the row ``inflight``; the id is read back by reference.
* Edits after sending are PATCHed, withdrawals PATCH the hours to 0, always to the FACTS row the
  entry was sent as, whatever became of the account since.
* Two or more FACTS rows with one reference, or a referenced row that holds other hours than this
  store sent, are recorded on the outbox row and reported, never dropped silently.
* A busy store (``database is locked``) is waited out with backoff; it never ends ``follow``.

States: ``pending`` (a write is owed), ``inflight`` (FACTS accepted the POST; id not read back
yet), ``sent`` (FACTS holds the entry; ``service_hours_id`` known), ``failed`` (gave up after
``max_attempts``, or FACTS refused the body; ``last_error`` says why).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, cast

import peewee as pw

from core.facts.client import FactsClient, gather_all
from core.facts.errors import (
    FactsError,
    NotFound,
    OutcomeUnknown,
    QuotaExhausted,
    RateLimited,
    ReadOnly,
    ValidationFailed,
)
from core.facts.models import StudentServiceHoursModel
from core.facts.ratelimit import InFlightGate, in_flight_for
from core.writeback.claims import host_pid, machine, process_alive
from core.writeback.outbox import write_transaction
from core.writeback.reconcile import Found, Seek, reconcile, relevant
from core.writeback.rules import (
    Decision,
    Desired,
    backoff_seconds,
    decide,
    desired_state,
    patch_ops,
)
from store import Store
from store.db import is_busy
from store.models import Account, Connection, HourEntry, Outbox, Site, utcnow

log = logging.getLogger(__name__)

Kind = Literal["students", "parents"]
OPEN_STATES = ("pending", "inflight")
Now = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]


def hour_sync_off(site: str) -> str:
    return (
        f"hour syncing is off for site {site!r}: nothing is sent to FACTS until it is turned on "
        f"('factsync hours syncing {site} on' shows what would be sent first)"
    )


@dataclass
class WorkerConfig:
    """Knobs of the worker; the defaults suit a real school."""

    batch_size: int = 100
    """Rows claimed at once; FACTS is read for them in one request per 150 people."""
    pipeline: int = 2
    """Batches in progress at once, so one batch's look-up and read-back overlap the other's
    POSTs: at 800 ms of latency a lone batch would leave the plan idle while it waits."""
    parallel: int | None = None
    """Requests in flight at once; None sizes it from the observed latency and the plan's rate
    (the client's limiter keeps the rate on top)."""
    max_attempts: int = 8
    lease_s: float = 120.0
    poll_s: float = 2.0
    """``follow``: how often to look for new approvals (the issue asks for within 5 s)."""
    backoff_base_s: float = 2.0
    backoff_cap_s: float = 300.0
    busy_cap_s: float = 30.0
    """Longest wait between tries while the store is busy (locked by another process)."""
    recheck_s: float = 600.0
    """``follow``: while write-back is off, re-check the key's permissions this often."""
    max_idle_failures: int = 3
    """``drain``: give up after this many batches in a row could not reach FACTS at all."""
    max_wait_s: float = 60.0
    """``drain``: rows whose next try is further away than this are left for a later run."""


@dataclass
class RunReport:
    """What one run did (counts of entries) and why it stopped early, if it did."""

    created: int = 0
    adopted: int = 0
    """Found in FACTS (by reference, or entered by hand): adopted, not posted."""
    updated: int = 0
    withdrawn: int = 0
    dropped: int = 0
    failed: int = 0
    retrying: int = 0
    requests: int = 0
    duplicates_in_facts: int = 0
    """Entries FACTS holds more than one row for (FACTS has no DELETE: a person must settle)."""
    mismatches: int = 0
    """Entries whose FACTS row holds other hours or date than this store ever sent."""
    store_busy: int = 0
    """Times the store was locked by another process and the worker waited."""
    disabled: str | None = None
    error: str | None = None
    duplicates: list[str] = field(default_factory=list)
    """One line per finding (duplicates and mismatches), naming the entry and the FACTS rows."""

    @property
    def written(self) -> int:
        return self.created + self.adopted + self.updated + self.withdrawn

    def to_json(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "adopted": self.adopted,
            "updated": self.updated,
            "withdrawn": self.withdrawn,
            "dropped": self.dropped,
            "failed": self.failed,
            "retrying": self.retrying,
            "requests": self.requests,
            "duplicatesInFacts": self.duplicates_in_facts,
            "mismatches": self.mismatches,
            "storeBusy": self.store_busy,
            "disabled": self.disabled,
            "error": self.error,
            "duplicates": self.duplicates,
        }


@dataclass
class _Item:
    """One claimed outbox row with what its entry says FACTS should hold."""

    row_id: int
    entry_id: int
    token: str
    kind: Kind
    reference: str
    state: str
    operation: str
    attempts: int
    outcome_unknown: bool
    service_hours_id: int | None
    person_id: int | None
    """The FACTS person the row was written (or found) under."""
    sent_hours: float | None
    sent_date: date | None
    want: Desired
    created: bool = False
    prior_unknown: bool = False

    def seek(self, *, hand: bool = True) -> Seek:
        people = {p for p in (self.person_id, self.want.person_id) if p is not None}
        return Seek(
            key=self.row_id,
            reference=self.reference,
            person_ids=frozenset(people),
            day=self.want.date,
            hours=self.want.hours,
            description=self.want.description,
            hand=hand and self.want.live,
        )


@dataclass(frozen=True)
class _Sent:
    """FACTS row ``service_hours_id`` now holds ``holds`` (hours, date) for ``item``."""

    item: _Item
    service_hours_id: int
    want: Desired
    label: Literal["created", "adopted", "patched"]
    holds: tuple[float, date] | None = None
    mismatch: str | None = None


Progress = Callable[[RunReport], None]
Recheck = Callable[[], Awaitable[Any]]


class WriteBackWorker:
    """Drains one site's outbox through one FACTS client. Not thread-safe: one per event loop.

    ``now``/``sleep`` are the worker's clock (naive UTC) and its waits; tests pass a fake clock
    shared with the client and the sandbox to walk through a day's quota in seconds.
    """

    def __init__(
        self,
        store: Store,
        site: Site,
        client: FactsClient,
        *,
        config: WorkerConfig | None = None,
        recheck: Recheck | None = None,
        on_progress: Progress | None = None,
        now: Now | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        self.store = store
        self.site = site
        self.client = client
        self.config = config or WorkerConfig()
        self.recheck = recheck
        self.on_progress = on_progress
        self._now: Now = now or utcnow
        self._fake_sleep = sleep
        self.worker_id = f"{machine()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.report = RunReport()
        self._claims = 0
        self._active: set[str] = set()
        self._rng = random.Random()
        self._gate = InFlightGate(self.config.parallel or 4)
        self._stop: asyncio.Event | None = None
        self._halt: str | None = None  # set when FACTS said stop (Read-only, quota)
        self._requests_at_start = client.stats.requests
        self._last_recheck = 0.0
        self._paused_until = datetime.min  # the daily quota is used up until then (UTC)
        self._paused_reason = ""
        self._busy = 0
        self._created: list[_Item] = []
        self._created_at = 0.0

    # --- public -----------------------------------------------------------------------------

    async def drain(self, stop: asyncio.Event | None = None) -> RunReport:
        """Send everything owed now, waiting out retry back-offs; stop when nothing is left."""
        return await self._run(stop, follow=False)

    async def follow(self, stop: asyncio.Event) -> RunReport:
        """Run until ``stop`` is set: new approvals are picked up within ``poll_s``."""
        return await self._run(stop, follow=True)

    def disabled_reason(self) -> str | None:
        """Why write-back is off for the site right now (None: it is on)."""
        site: Site | None = Site.get_or_none(Site.id == self.site.id)
        if site is None:
            return f"site {self.site.name!r} no longer exists"
        if not site.hour_sync:
            return hour_sync_off(site.name)
        conn: Connection | None = Connection.get_or_none(Connection.site == self.site.id)
        if conn is None:
            return f"site {self.site.name!r} is not connected to FACTS"
        if conn.people_write is False:
            return conn.last_error or ReadOnly("People").message
        if self._halt:
            return self._halt
        return None

    def paused(self) -> tuple[datetime, str] | None:
        """Until when FACTS's daily quota is used up (this run's finding, or another process's)."""
        if self._paused_until > self._now():
            return self._paused_until, self._paused_reason
        conn: Connection | None = Connection.get_or_none(Connection.site == self.site.id)
        if conn is not None and conn.quota_until is not None and conn.quota_until > self._now():
            until = conn.quota_until
            return until, f"FACTS's daily call quota is used up; write-back resumes at {until:%Y-%m-%d %H:%M} UTC"
        return None

    # --- the loop ---------------------------------------------------------------------------

    async def _run(self, stop: asyncio.Event | None, *, follow: bool) -> RunReport:
        self._stop = stop
        running: set[asyncio.Task[bool]] = set()
        idle_failures = 0
        started = False
        try:
            while not self._stopping():
                try:
                    if not started:
                        await self._ensure_enabled()
                        started = True
                    self._halt = None if not running else self._halt
                    blocked = self._blocked()
                    if blocked is not None and not running:
                        reason, wait = blocked
                        if not follow:
                            self.report.disabled = reason
                            break
                        if reason != self.report.disabled:
                            self.report.disabled = reason
                            self._progress()
                        await self._while_off(wait)
                        continue
                    if follow and self.report.disabled is not None and blocked is None:
                        self.report.disabled = None
                        self._progress()
                    if blocked is None and len(running) < self.config.pipeline:
                        batch = self._claim()
                        if batch is not None:
                            running.add(asyncio.create_task(self._process(*batch)))
                            continue
                    if running:
                        done, _ = await asyncio.wait(
                            running, timeout=self.config.poll_s, return_when=asyncio.FIRST_COMPLETED
                        )
                        errors: list[BaseException] = []
                        for task in done:
                            running.discard(task)
                            if task.exception() is not None:
                                errors.append(cast(BaseException, task.exception()))
                                continue
                            idle_failures = 0 if task.result() else idle_failures + 1
                        if errors:
                            raise errors[0]
                        if not follow and idle_failures >= self.config.max_idle_failures:
                            self.report.error = self.report.error or "FACTS could not be reached"
                            break
                        self._busy = 0
                        continue
                    if not follow and self._halt:
                        break
                    due = self._next_due()
                    if not follow and (due is None or due > self.config.max_wait_s):
                        break
                    limit = self.config.poll_s if follow else self.config.max_wait_s
                    await self._sleep(limit if due is None else min(due, limit))
                    self._busy = 0
                except Exception as err:
                    if not is_busy(err):
                        raise
                    await self._store_busy(err)
        finally:
            if running:
                results = await asyncio.gather(*running, return_exceptions=True)
                for result in results:
                    if isinstance(result, BaseException) and not is_busy(result):
                        log.warning("write-back: a batch failed: %s", result)
        self._finish()
        return self.report

    def _blocked(self) -> tuple[str, float] | None:
        """Why nothing may be sent now, and how long to wait before looking again."""
        reason = self.disabled_reason()
        if reason is not None:
            return reason, self.config.poll_s
        pause = self.paused()
        if pause is not None:
            until, why = pause
            return why, max((until - self._now()).total_seconds(), 0.01)
        return None

    async def _while_off(self, wait: float) -> None:
        loop = asyncio.get_running_loop()
        if (
            self.recheck is not None
            and self.disabled_reason() is not None
            and loop.time() - self._last_recheck >= self.config.recheck_s
        ):
            await self._recheck()
            return
        await self._sleep(min(self.config.poll_s, wait) if self._fake_sleep is None else wait)

    async def _store_busy(self, err: BaseException) -> None:
        """The store is locked by another process: wait (with backoff) and try again."""
        self._busy += 1
        self.report.store_busy += 1
        delay = backoff_seconds(self._busy, 0.5, self.config.busy_cap_s, self._rng)
        log.warning("write-back: the store is busy (%s); trying again in %.1f s", err, delay)
        await self._sleep(delay)

    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    async def _sleep(self, seconds: float) -> None:
        seconds = max(seconds, 0.01)
        if self._fake_sleep is not None:
            await self._fake_sleep(seconds)
            return
        if self._stop is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)

    async def _ensure_enabled(self) -> None:
        conn: Connection | None = Connection.get_or_none(Connection.site == self.site.id)
        if conn is not None and conn.people_write is None and self.recheck is not None:
            await self._recheck()

    async def _recheck(self) -> None:
        self._last_recheck = asyncio.get_running_loop().time()
        try:
            await self.recheck()  # type: ignore[misc]
        except FactsError as err:
            log.info("write-back: re-checking the connection failed: %s", err)

    def _finish(self) -> None:
        if self.report.disabled is None and not self._stopping():
            with contextlib.suppress(Exception):
                blocked = self._blocked()
                self.report.disabled = self._halt or (blocked[0] if blocked else None)
        self.report.requests = self.client.stats.requests - self._requests_at_start
        with contextlib.suppress(Exception):
            self.report.retrying = self._open_count()
        self._progress()

    def _progress(self) -> None:
        self.report.requests = self.client.stats.requests - self._requests_at_start
        if self.on_progress is not None:
            self.on_progress(self.report)

    # --- claims -----------------------------------------------------------------------------

    def _site_entries(self) -> Any:
        return HourEntry.select(HourEntry.id).join(Account).where(Account.site == self.site.id)

    def _claimable(self, now: datetime) -> Any:
        free = Outbox.claimed_until.is_null() | (
            (Outbox.claimed_until < now) & ~Outbox.claimed_by.startswith(self.worker_id)
        )
        return Outbox.state.in_(OPEN_STATES) & free & Outbox.entry.in_(self._site_entries())

    def _release_dead_claims(self) -> None:
        """Claims of processes of this host that no longer run are released, not waited out;
        so are this worker's own claims that no running batch holds (left by a busy store)."""
        host = machine()
        now = self._now()
        held = (
            Outbox.select(Outbox.claimed_by)
            .where(Outbox.claimed_by.is_null(False) & (Outbox.claimed_until >= now))
            .distinct()
            .tuples()
        )
        dead: list[str] = []
        for (claim,) in cast(Any, held):
            claim = str(claim)
            if claim.startswith(self.worker_id + ":"):
                if claim not in self._active:
                    dead.append(claim)
                continue
            owner = host_pid(claim)
            if owner and owner[0] == host and owner[1] != os.getpid() and not process_alive(owner[1]):
                dead.append(claim)
        if dead:
            with write_transaction():
                Outbox.update(claimed_by=None, claimed_until=None).where(
                    Outbox.claimed_by.in_(dead)
                ).execute()

    def _claim(self) -> tuple[str, list[int]] | None:
        """Take up to ``batch_size`` due rows in one UPDATE (SQLite serializes writers)."""
        self._release_dead_claims()
        self._claims += 1
        token = f"{self.worker_id}:{self._claims}"
        now = self._now()
        until = now + timedelta(seconds=self.config.lease_s)
        with write_transaction():
            due = (
                Outbox.select(Outbox.id)
                .where(self._claimable(now) & (Outbox.next_try_at <= now))
                .order_by(Outbox.next_try_at, Outbox.id)
                .limit(self.config.batch_size)
            )
            Outbox.update(claimed_by=token, claimed_until=until).where(
                Outbox.id.in_(due)
            ).execute()
            ids = [r.id for r in Outbox.select(Outbox.id).where(Outbox.claimed_by == token)]
        if not ids:
            return None
        self._active.add(token)
        return token, ids

    def _release(self, token: str) -> None:
        with write_transaction():
            Outbox.update(claimed_by=None, claimed_until=None).where(
                Outbox.claimed_by == token
            ).execute()
        self._active.discard(token)

    async def _heartbeat(self, token: str) -> None:
        while True:
            await asyncio.sleep(self.config.lease_s / 3)
            try:
                with write_transaction():
                    Outbox.update(
                        claimed_until=self._now() + timedelta(seconds=self.config.lease_s)
                    ).where(Outbox.claimed_by == token).execute()
            except Exception as err:
                if not is_busy(err):
                    raise

    def _next_due(self) -> float | None:
        """Seconds until the next row this worker could claim is due; None when none is open."""
        now = self._now()
        first = Outbox.select(Outbox.next_try_at).where(self._claimable(now)).order_by(
            Outbox.next_try_at
        ).limit(1).scalar()
        if first is None:
            return None
        return max((cast(datetime, first) - now).total_seconds(), 0.0)

    def _open_count(self) -> int:
        return int(
            Outbox.select()
            .where(Outbox.state.in_(OPEN_STATES) & Outbox.entry.in_(self._site_entries()))
            .count()
        )

    # --- loading ----------------------------------------------------------------------------

    def _want(self, entry: HourEntry, account: Account, reference: str) -> Desired:
        return desired_state(
            reference=reference,
            site_name=self.site.name,
            person_id=account.person_id,
            day=entry.date,
            hours=entry.hours,
            description=entry.description,
            status=entry.status,
            deleted=entry.deleted,
            approved_by=entry.approved_by,
            verifier=entry.verifier,
        )

    def _load(self, token: str, ids: Sequence[int]) -> list[_Item]:
        query = (
            Outbox.select(Outbox, HourEntry, Account)
            .join(HourEntry)
            .join(Account)
            .where(Outbox.id.in_(list(ids)) & (Outbox.claimed_by == token))
            .order_by(Outbox.id)
        )
        items: list[_Item] = []
        for row in query:
            entry: HourEntry = row.entry
            items.append(
                _Item(
                    row_id=row.id,
                    entry_id=entry.id,
                    token=token,
                    kind=cast(Kind, row.resource),
                    reference=row.reference,
                    state=row.state,
                    operation=row.operation,
                    attempts=row.attempts,
                    outcome_unknown=row.outcome_unknown,
                    service_hours_id=row.service_hours_id,
                    person_id=row.person_id,
                    sent_hours=row.sent_hours,
                    sent_date=row.sent_date,
                    want=self._want(entry, entry.account, row.reference),
                )
            )
        return items

    def _current_wants(self, items: Sequence[_Item]) -> dict[int, Desired]:
        """What each item's entry says now (one query), keyed by outbox row id."""
        by_entry = {it.entry_id: it for it in items}
        out: dict[int, Desired] = {}
        for entry in (
            HourEntry.select(HourEntry, Account)
            .join(Account)
            .where(HourEntry.id.in_(list(by_entry)))
        ):
            it = by_entry[entry.id]
            out[it.row_id] = self._want(entry, entry.account, it.reference)
        return out

    def _current_want(self, item: _Item) -> Desired | None:
        return self._current_wants([item]).get(item.row_id)

    # --- one batch --------------------------------------------------------------------------

    async def _process(self, token: str, ids: Sequence[int]) -> bool:
        """Handle one claimed batch; returns False when FACTS could not be reached at all."""
        beat = asyncio.create_task(self._heartbeat(token))
        try:
            return await self._process_items(self._load(token, ids))
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
            try:
                self._flush_created()
                self._release(token)
            except Exception as err:  # a busy store: the next claim releases it
                if not is_busy(err):
                    raise
            finally:
                self._active.discard(token)
            self._progress()

    def _size_gate(self) -> None:
        if self.config.parallel is not None:
            self._gate.limit = self.config.parallel
            return
        latency = self.client.latency.median(default=1.0)  # unknown: assume slow, fill the plan
        self._gate.limit = in_flight_for(self.client.limits, latency)

    async def _process_items(self, items: list[_Item]) -> bool:
        lookups = [it for it in items if it.service_hours_id is None]
        found: dict[Any, Found] = {}
        if lookups:
            try:
                found = await self._find(lookups, hand=True)
            except FactsError as err:
                self._on_lookup_error(lookups, err)
                items = [it for it in items if it not in lookups]
                if not items:
                    return False
        posts: list[_Item] = []
        patches: list[tuple[_Item, int]] = []
        sent: list[_Sent] = []
        for it in items:
            hit = found.get(it.row_id)
            decision = decide(
                state=it.state,
                operation=it.operation,
                service_hours_id=it.service_hours_id,
                found=hit.row if hit else None,
                hand=hit is not None and hit.how == "hand",
                want=it.want,
                sent_hours=it.sent_hours,
                sent_date=it.sent_date,
                outcome_unknown=it.outcome_unknown,
            )
            self._apply_decision(it, decision, hit, posts, patches, sent)
        self._record_found([(it, found[it.row_id]) for it in items if it.row_id in found])
        self._mark_sent(sent)
        self._size_gate()
        bodies = self._mark_posting(posts)
        await gather_all(
            [
                *(self._post(it, body) for it, body in bodies),
                *(self._patch(it, sid) for it, sid in patches),
            ]
        )
        self._flush_created()
        created = [it for it, _ in bodies if it.created]
        if created:
            await self._read_back(created)
        return True

    def _apply_decision(
        self,
        it: _Item,
        decision: Decision,
        hit: Found | None,
        posts: list[_Item],
        patches: list[tuple[_Item, int]],
        sent: list[_Sent],
    ) -> None:
        label: Literal["created", "adopted"] = (
            "created" if it.state == "inflight" or it.created else "adopted"
        )
        if decision.action == "sent":
            assert decision.service_hours_id is not None
            sent.append(_Sent(it, decision.service_hours_id, it.want, label))
        elif decision.action == "mismatch":
            assert decision.service_hours_id is not None and hit is not None
            holds = (float(hit.row.hours or 0.0), hit.row.date.date() if hit.row.date else it.want.date)
            sent.append(
                _Sent(it, decision.service_hours_id, it.want, label, holds, decision.reason)
            )
        elif decision.action == "patch":
            assert decision.service_hours_id is not None
            patches.append((it, decision.service_hours_id))
        elif decision.action == "post":
            posts.append(it)
        elif decision.action == "drop":
            self._drop(it, decision.reason)
        else:
            self._retry_later(it, decision.reason, count=True)

    async def _find(self, items: Sequence[_Item], *, hand: bool) -> dict[Any, Found]:
        """The FACTS row of each item that has one (fresh reads: ``x-bypass-cache``)."""
        out: dict[Any, Found] = {}
        kinds: dict[Kind, list[_Item]] = {}
        for it in items:
            kinds.setdefault(it.kind, []).append(it)
        for kind, group in kinds.items():
            seeks = [it.seek(hand=hand) for it in group]
            people = sorted({p for s in seeks for p in s.person_ids})
            if not people:
                continue
            rows = await self.client.list_service_hours(kind, people, bypass_cache=True)
            rows = relevant(seeks, rows)
            taken = self._taken(kind, rows, {it.row_id for it in group})
            out.update(reconcile(seeks, rows, taken))
        return out

    def _taken(
        self, kind: Kind, rows: Sequence[StudentServiceHoursModel], mine: set[int]
    ) -> set[int]:
        """FACTS row ids other outbox rows already hold: never adopted twice."""
        ids = [int(r.serviceHoursId) for r in rows if r.serviceHoursId]
        taken: set[int] = set()
        for i in range(0, len(ids), 500):
            query = Outbox.select(Outbox.service_hours_id).where(
                (Outbox.resource == kind)
                & Outbox.service_hours_id.in_(ids[i : i + 500])
                & ~Outbox.id.in_(sorted(mine))
            )
            taken.update(int(cast(int, r.service_hours_id)) for r in query)
        return taken

    async def _read_back(self, created: list[_Item]) -> None:
        """Learn the ids of rows FACTS accepted (201 has no body), batched by personId."""
        try:
            found = await self._find(created, hand=False)
        except FactsError as err:
            self._on_lookup_error(created, err)
            return
        patches: list[tuple[_Item, int]] = []
        sent: list[_Sent] = []
        wants = self._current_wants(created)
        hits: list[tuple[_Item, Found]] = []
        for it in created:
            want = wants.get(it.row_id)
            if want is None:
                continue
            it.want, it.state = want, "inflight"
            hit = found.get(it.row_id)
            if hit is not None:
                hits.append((it, hit))
            decision = decide(
                state="inflight",
                operation=it.operation,
                service_hours_id=None,
                found=hit.row if hit else None,
                hand=False,
                want=want,
                sent_hours=it.sent_hours,
                sent_date=it.sent_date,
            )
            self._apply_decision(it, decision, hit, [], patches, sent)
        self._record_found(hits)
        self._mark_sent(sent)
        await gather_all([self._patch(it, sid) for it, sid in patches])

    def _on_lookup_error(self, items: Sequence[_Item], err: FactsError) -> None:
        if isinstance(err, ReadOnly | QuotaExhausted):
            self._halt_on(err)
        for it in items:
            self._retry_later(it, f"looking the entry up in FACTS failed: {err}", count=False)

    # --- sending ----------------------------------------------------------------------------

    def _may_send(self) -> bool:
        return not self._stopping() and not self._halt

    async def _post(self, it: _Item, body: StudentServiceHoursModel) -> None:
        self._size_gate()  # follows the latency as it is measured, within a batch too
        async with self._gate:
            if not self._may_send():
                self._unmark_posting(it)
                return
            try:
                await self.client.post_service_hours(it.kind, body)
            except FactsError as err:
                self._after_error(it, err, posted=True)
            else:
                self._mark_created(it)
            self._progress()

    async def _patch(self, it: _Item, service_hours_id: int) -> None:
        async with self._gate:
            if not self._may_send():
                return
            want = self._current_want(it)
            if want is None:
                return
            if not self._fenced_update(
                it, attempts=Outbox.attempts + 1, last_attempt_at=self._now()
            ):
                return
            it.attempts += 1
            try:
                await self.client.patch_service_hours(
                    it.kind, service_hours_id, patch_ops(want)
                )
            except NotFound as err:
                # FACTS has no such id (any more): find the row by its reference next time.
                self._fenced_update(it, service_hours_id=None)
                it.service_hours_id = None
                self._retry_later(it, str(err), count=False)
            except FactsError as err:
                self._after_error(it, err, posted=False)
            else:
                self._mark_sent([_Sent(it, service_hours_id, want, "patched")])
            self._progress()

    # --- recording outcomes (each in its own short write transaction, fenced by the claim) ----

    def _fenced_update(self, it: _Item, **values: Any) -> bool:
        with write_transaction():
            n = (
                Outbox.update(**values)
                .where((Outbox.id == it.row_id) & (Outbox.claimed_by == it.token))
                .execute()
            )
        return bool(n)

    def _bulk_update(
        self,
        token: str,
        per_row: dict[int, dict[str, Any]],
        common: dict[str, Any],
        fence: Any = None,
    ) -> set[int]:
        """One UPDATE for many rows (values that differ per row go in CASE expressions), fenced
        by the claim; returns the ids updated. Call inside a write transaction."""
        if not per_row:
            return set()
        where = Outbox.id.in_(list(per_row)) & (Outbox.claimed_by == token)
        if fence is not None:
            where = where & fence
        live = {int(r.id) for r in Outbox.select(Outbox.id).where(where)}
        if not live:
            return set()
        values = dict(common)
        for name in {k for row in per_row.values() for k in row}:
            field = Outbox._meta.fields[name]
            values[name] = pw.Case(
                Outbox.id, [(i, field.db_value(per_row[i][name])) for i in sorted(live)], field
            )
        Outbox.update(**values).where(Outbox.id.in_(sorted(live))).execute()
        return live

    def _record_found(self, hits: Sequence[tuple[_Item, Found]]) -> None:
        """Store each found FACTS row's id before anything else is done with it (one
        transaction), with the duplicates found beside it."""
        if not hits:
            return
        with write_transaction():
            mine = [it.row_id for it, _ in hits]
            held = {
                (str(o.resource), int(cast(int, o.service_hours_id)))
                for o in Outbox.select(Outbox.resource, Outbox.service_hours_id).where(
                    Outbox.service_hours_id.in_([h.service_hours_id for _, h in hits])
                    & ~Outbox.id.in_(mine)
                )
            }
            by_token: dict[str, dict[int, tuple[_Item, Found]]] = {}
            for it, hit in hits:
                if (it.kind, hit.service_hours_id) in held:
                    continue  # another worker adopted this FACTS row for another entry meanwhile
                by_token.setdefault(it.token, {})[it.row_id] = (it, hit)
            for token, rows in by_token.items():
                done = self._bulk_update(
                    token,
                    {
                        i: {
                            "service_hours_id": hit.service_hours_id,
                            "person_id": hit.row.personId,
                            "facts_duplicates": ",".join(str(r.serviceHoursId) for r in hit.duplicates)
                            or None,
                        }
                        for i, (_, hit) in rows.items()
                    },
                    {"outcome_unknown": False},
                )
                for i in sorted(done):
                    it, hit = rows[i]
                    sid = hit.service_hours_id
                    it.service_hours_id, it.person_id = sid, hit.row.personId
                    it.outcome_unknown = False
                    if hit.duplicates:
                        self.report.duplicates_in_facts += 1
                        extra = ", ".join(str(r.serviceHoursId) for r in hit.duplicates)
                        self.report.duplicates.append(
                            f"entry {it.entry_id}: FACTS holds {len(hit.duplicates) + 1} rows "
                            f"with its reference (kept {sid}; also {extra})"
                        )

    def _mark_posting(self, items: Sequence[_Item]) -> list[tuple[_Item, StudentServiceHoursModel]]:
        """Commit 'these POSTs may reach FACTS' before sending any (one transaction); returns
        the bodies to send, from the entries as they are now."""
        if not items:
            return []
        out: list[tuple[_Item, StudentServiceHoursModel]] = []
        now = self._now()
        with write_transaction():
            wants = self._current_wants(items)
            marking: dict[int, tuple[_Item, Desired]] = {}
            for it in items:
                want = wants.get(it.row_id)
                if want is None or not want.live or want.person_id is None:
                    # Changed since the look-up found nothing in FACTS: nothing is owed.
                    fence = (
                        (Outbox.id == it.row_id)
                        & (Outbox.claimed_by == it.token)
                        & Outbox.state.in_(OPEN_STATES)
                        & (Outbox.outcome_unknown == False)  # noqa: E712
                    )
                    if Outbox.delete().where(fence).execute():
                        self.report.dropped += 1
                    continue
                marking[it.row_id] = (it, want)
            tokens = {it.token for it, _ in marking.values()}
            for token in tokens:
                rows = {i: v for i, v in marking.items() if v[0].token == token}
                done = self._bulk_update(
                    token,
                    {
                        i: {"person_id": w.person_id, "sent_hours": w.hours, "sent_date": w.date}
                        for i, (_, w) in rows.items()
                    },
                    {"outcome_unknown": True, "attempts": Outbox.attempts + 1,
                     "last_attempt_at": now},
                    Outbox.state.in_(OPEN_STATES),
                )
                for i in sorted(done):
                    it, want = rows[i]
                    it.prior_unknown = it.outcome_unknown
                    it.want, it.person_id, it.outcome_unknown = want, want.person_id, True
                    it.sent_hours, it.sent_date = want.hours, want.date
                    it.attempts += 1
                    out.append((it, want.body()))
        return out

    def _unmark_posting(self, it: _Item) -> None:
        """A POST marked but never sent (stopping, halted): as it was."""
        if self._fenced_update(
            it, outcome_unknown=it.prior_unknown, attempts=max(it.attempts - 1, 0)
        ):
            it.outcome_unknown = it.prior_unknown
            it.attempts = max(it.attempts - 1, 0)

    def _mark_created(self, it: _Item) -> None:
        """FACTS answered 201: the row exists there; its id is read back with the batch.

        Recorded in small groups (10 answers or a quarter second): until then the row stays
        "may be in FACTS", which a later look-up settles."""
        it.created, it.state, it.outcome_unknown = True, "inflight", False
        self._created.append(it)
        now = asyncio.get_running_loop().time()
        if len(self._created) >= 10 or now - self._created_at >= 0.25:
            self._flush_created()

    def _flush_created(self) -> None:
        pending, self._created = self._created, []
        self._created_at = asyncio.get_running_loop().time()
        if not pending:
            return
        with write_transaction():
            for token in {it.token for it in pending}:
                ids = [it.row_id for it in pending if it.token == token]
                Outbox.update(state="inflight", outcome_unknown=False, last_error=None).where(
                    Outbox.id.in_(ids) & (Outbox.claimed_by == token)
                ).execute()

    def _mark_sent(self, done: Sequence[_Sent]) -> None:
        """FACTS holds what was sent. An entry changed meanwhile stays owed (one transaction)."""
        if not done:
            return
        now = self._now()
        with write_transaction():
            wants = self._current_wants([d.item for d in done])
            settled: dict[str, dict[int, tuple[_Sent, dict[str, Any]]]] = {}
            for d in done:
                it = d.item
                want = wants.get(it.row_id, d.want)
                hours, day = d.holds if d.holds is not None else (d.want.hours, d.want.date)
                values: dict[str, Any] = {
                    "service_hours_id": d.service_hours_id,
                    "sent_hours": hours,
                    "sent_date": day,
                    "mismatch": d.mismatch,
                    "operation": "withdraw" if not d.want.live
                    else "update" if it.operation != "create" else "create",
                }
                if want == d.want:
                    settled.setdefault(it.token, {})[it.row_id] = (d, values)
                    continue
                values.update(  # changed meanwhile: FACTS holds the row; bring it up to date
                    outcome_unknown=False, last_error=None, sent_at=now, state="pending",
                    operation="update" if want.live else "withdraw", next_try_at=now,
                )
                if Outbox.update(**values).where(
                    (Outbox.id == it.row_id) & (Outbox.claimed_by == it.token)
                ).execute():
                    self._count_sent(d)
            common = {"outcome_unknown": False, "last_error": None, "sent_at": now,
                      "state": "sent", "attempts": 0}
            for token, rows in settled.items():
                done_ids = self._bulk_update(token, {i: v for i, (_, v) in rows.items()}, common)
                for i in sorted(done_ids):
                    self._count_sent(rows[i][0])

    def _count_sent(self, d: _Sent) -> None:
        if d.mismatch:
            self.report.mismatches += 1
            self.report.duplicates.append(f"entry {d.item.entry_id}: {d.mismatch}")
        elif not d.want.live:
            self.report.withdrawn += 1
        elif d.label == "patched":
            self.report.updated += 1
        elif d.label == "adopted":
            self.report.adopted += 1
        else:
            self.report.created += 1

    def _drop(self, it: _Item, reason: str) -> None:
        """Forget a row FACTS does not hold whose entry is no longer owed (re-checked)."""
        with write_transaction():
            want = self._current_want(it)
            if want is not None and want.live and want.person_id is not None:
                return  # approved (or linked) again meanwhile: still owed
            n = (
                Outbox.delete()
                .where(
                    (Outbox.id == it.row_id)
                    & (Outbox.claimed_by == it.token)
                    & (Outbox.state != "sent")
                    & Outbox.service_hours_id.is_null()
                )
                .execute()
            )
        if n:
            log.info("write-back: entry %s dropped: %s", it.entry_id, reason)
            self.report.dropped += 1

    def _retry_later(
        self, it: _Item, reason: str, *, count: bool, delay: float | None = None,
        until: datetime | None = None, **extra: Any,
    ) -> None:
        attempts = it.attempts + (1 if count else 0)
        if count and attempts >= self.config.max_attempts:
            self._fail(it, reason, attempts)
            return
        if until is None:
            if delay is None:
                delay = backoff_seconds(
                    max(attempts, 1), self.config.backoff_base_s, self.config.backoff_cap_s,
                    self._rng,
                )
            until = self._now() + timedelta(seconds=delay)
        if self._fenced_update(
            it, attempts=attempts, last_error=reason, next_try_at=until, **extra
        ):
            it.attempts = attempts

    def _fail(self, it: _Item, reason: str, attempts: int, **extra: Any) -> None:
        if self._fenced_update(it, state="failed", attempts=attempts, last_error=reason, **extra):
            self.report.failed += 1
            log.warning("write-back: entry %s failed: %s", it.entry_id, reason)

    def _after_error(self, it: _Item, err: FactsError, *, posted: bool) -> None:
        """Record a failed POST/PATCH (``it.attempts`` already counts it). Only a refusal of
        this very POST puts "may be in FACTS" back as it was before; no error clears it."""
        refused = posted and not isinstance(err, OutcomeUnknown)
        extra: dict[str, Any] = {"outcome_unknown": it.prior_unknown} if refused else {}
        if isinstance(err, ReadOnly | QuotaExhausted):
            # Refused at the gate: nothing was written, and the attempt does not count.
            self._halt_on(err)
            it.attempts = max(it.attempts - 1, 0)
            until = self._paused_until if isinstance(err, QuotaExhausted) else self._now()
            self._retry_later(it, str(err), count=False, until=until, **extra)
            return
        if isinstance(err, ValidationFailed):
            self._fail(it, str(err), it.attempts, **extra)
            return
        if it.attempts >= self.config.max_attempts:
            self._fail(it, str(err), it.attempts, **extra)
            return
        if not isinstance(err, RateLimited | OutcomeUnknown) and err.retryable is False:
            log.info("write-back: entry %s: %s", it.entry_id, err)
        delay = err.retry_after if isinstance(err, RateLimited) else None
        self._retry_later(it, str(err), count=False, delay=delay, **extra)

    def _halt_on(self, err: FactsError) -> None:
        """FACTS refused on behalf of the whole site: stop sending, say why, keep rows queued."""
        self._halt = str(err)
        if isinstance(err, QuotaExhausted):
            left = (err.until - datetime.now(UTC)).total_seconds()
            until = self._now() + timedelta(seconds=max(left, 1.0))
            self._paused_until = until
            self._paused_reason = (
                f"FACTS's daily call quota is used up; write-back resumes at "
                f"{until:%Y-%m-%d %H:%M} UTC"
            )
            with write_transaction():
                Connection.update(quota_until=until).where(
                    Connection.site == self.site.id
                ).execute()
        if isinstance(err, ReadOnly):
            with write_transaction():
                Connection.update(people_write=False, last_error=str(err)).where(
                    Connection.site == self.site.id
                ).execute()
