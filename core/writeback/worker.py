"""The write-back worker: drains a site's outbox into FACTS ServiceHours, exactly once.

How exactly-once holds (FACTS has no DELETE, so a duplicate is permanent):

* Rows are *claimed* with one UPDATE in a write transaction, with a lease, so two workers on one
  store never hold the same row; every later write of the worker is fenced by its claim token.
  A claim held by a process of this host that no longer exists is released at once.
* Before a POST the row is committed with ``outcome_unknown=True`` and ``attempts+1``. A 201
  turns it into ``inflight`` (in FACTS, id not known yet); the id is then read back in batches
  (``personId==a|b|c``) and matched by the reference at the start of the FACTS ``note``.
* A row whose last attempt may have reached FACTS (timeout, dropped connection, 5xx, a crash
  between commit and answer) is looked up by its reference before anything else is sent, and
  the FACTS row found is adopted instead of posting again.
* Edits after sending are PATCHed; withdrawals PATCH the hours to 0 with a note saying so.

States: ``pending`` (a write is owed), ``inflight`` (FACTS accepted the POST; id not read back
yet), ``sent`` (FACTS matches the entry; ``service_hours_id`` known), ``failed`` (gave up after
``max_attempts``, or FACTS refused the body; ``last_error`` says why).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

from core.facts.client import FactsClient
from core.facts.errors import (
    FactsError,
    FactsUnreachable,
    NotFound,
    OutcomeUnknown,
    QuotaExhausted,
    RateLimited,
    ReadOnly,
    ValidationFailed,
)
from core.facts.models import StudentServiceHoursModel
from core.writeback.outbox import write_transaction
from core.writeback.rules import (
    Decision,
    Desired,
    backoff_seconds,
    by_reference,
    decide,
    desired_state,
    needs_lookup,
    patch_ops,
)
from store import Store
from store.models import Account, Connection, HourEntry, Outbox, Site, utcnow

log = logging.getLogger(__name__)

Kind = Literal["students", "parents"]
OPEN_STATES = ("pending", "inflight")


@dataclass
class WorkerConfig:
    """Knobs of the worker; the defaults suit a real school."""

    batch_size: int = 100
    """Rows claimed at once; their ids are read back in one request per 150 people."""
    parallel: int = 4
    """Requests in flight at once (the client's limiter keeps the plan's rate on top)."""
    max_attempts: int = 8
    lease_s: float = 120.0
    poll_s: float = 2.0
    """``follow``: how often to look for new approvals (the issue asks for within 5 s)."""
    backoff_base_s: float = 2.0
    backoff_cap_s: float = 300.0
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
    """Found in FACTS by their reference after an unknown outcome: adopted, not posted again."""
    updated: int = 0
    withdrawn: int = 0
    dropped: int = 0
    failed: int = 0
    retrying: int = 0
    requests: int = 0
    disabled: str | None = None
    error: str | None = None
    duplicates: list[str] = field(default_factory=list)

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
            "disabled": self.disabled,
            "error": self.error,
            "duplicates": self.duplicates,
        }


@dataclass
class _Item:
    """One claimed outbox row with what its entry says FACTS should hold."""

    row_id: int
    entry_id: int
    kind: Kind
    reference: str
    state: str
    operation: str
    attempts: int
    outcome_unknown: bool
    service_hours_id: int | None
    person_id: int | None
    want: Desired
    created: bool = False


@dataclass(frozen=True)
class _Sent:
    """FACTS row ``service_hours_id`` now holds ``want`` for ``item``."""

    item: _Item
    service_hours_id: int
    want: Desired
    label: Literal["created", "adopted", "patched"]


Progress = Callable[[RunReport], None]
Recheck = Callable[[], Awaitable[Any]]


def _machine() -> str:
    """This host as claims name it: host name plus PID namespace, so a process in another
    container (same host name, other PIDs) is never mistaken for a dead local one."""
    name = socket.gethostname().replace(":", "-")
    try:
        return f"{name}-{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return name


def _host_pid(claim: str) -> tuple[str, int] | None:
    parts = claim.split(":")
    if len(parts) < 3:
        return None
    try:
        return parts[0], int(parts[1])
    except ValueError:
        return None


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class WriteBackWorker:
    """Drains one site's outbox through one FACTS client. Not thread-safe: one per event loop."""

    def __init__(
        self,
        store: Store,
        site: Site,
        client: FactsClient,
        *,
        config: WorkerConfig | None = None,
        recheck: Recheck | None = None,
        on_progress: Progress | None = None,
    ) -> None:
        self.store = store
        self.site = site
        self.client = client
        self.config = config or WorkerConfig()
        self.recheck = recheck
        self.on_progress = on_progress
        self.worker_id = f"{_machine()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.report = RunReport()
        self._claims = 0
        self._token = ""
        self._rng = random.Random()
        self._sem = asyncio.Semaphore(self.config.parallel)
        self._stop: asyncio.Event | None = None
        self._halt: str | None = None  # set when FACTS said stop (Read-only, quota)
        self._requests_at_start = client.stats.requests
        self._last_recheck = 0.0
        self._paused_until = datetime.min  # the daily quota is used up until then (UTC)
        self._paused_reason = ""

    # --- public -----------------------------------------------------------------------------

    async def drain(self, stop: asyncio.Event | None = None) -> RunReport:
        """Send everything owed now, waiting out retry back-offs; stop when nothing is left."""
        self._stop = stop
        if await self._ensure_enabled():
            idle_failures = 0
            while not self._stopping():
                self._halt = None
                if self.disabled_reason() is not None:
                    break
                ids = self._claim()
                if ids:
                    progressed = await self._process(ids)
                    idle_failures = 0 if progressed else idle_failures + 1
                    if idle_failures >= self.config.max_idle_failures:
                        self.report.error = self.report.error or "FACTS could not be reached"
                        break
                    if self._halt:
                        break
                    continue
                wait = self._next_due()
                if wait is None or wait > self.config.max_wait_s:
                    break
                await self._sleep(wait)
        self._finish()
        return self.report

    async def follow(self, stop: asyncio.Event) -> RunReport:
        """Run until ``stop`` is set: new approvals are picked up within ``poll_s``."""
        self._stop = stop
        await self._ensure_enabled()
        loop = asyncio.get_running_loop()
        while not self._stopping():
            self._halt = None
            reason = self.disabled_reason()
            paused = reason is None and self._paused_until > utcnow()
            if paused:
                reason = self._paused_reason
            if reason != self.report.disabled:
                self.report.disabled = reason
                self._progress()
            if paused:
                left = (self._paused_until - utcnow()).total_seconds()
                await self._sleep(min(self.config.poll_s, left))
                continue
            if reason is not None:
                if self.recheck and loop.time() - self._last_recheck >= self.config.recheck_s:
                    await self._recheck()
                    continue
                await self._sleep(self.config.poll_s)
                continue
            ids = self._claim()
            if ids:
                await self._process(ids)
                continue
            wait = self._next_due()
            await self._sleep(self.config.poll_s if wait is None else min(wait, self.config.poll_s))
        self._finish()
        return self.report

    def disabled_reason(self) -> str | None:
        """Why write-back is off for the site right now (None: it is on)."""
        conn: Connection | None = Connection.get_or_none(Connection.site == self.site.id)
        if conn is None:
            return f"site {self.site.name!r} is not connected to FACTS"
        if conn.people_write is False:
            return conn.last_error or ReadOnly("People").message
        if self._halt:
            return self._halt
        return None

    # --- loop helpers -----------------------------------------------------------------------

    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    async def _sleep(self, seconds: float) -> None:
        seconds = max(seconds, 0.01)
        if self._stop is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)

    async def _ensure_enabled(self) -> bool:
        conn: Connection | None = Connection.get_or_none(Connection.site == self.site.id)
        if conn is not None and conn.people_write is None and self.recheck is not None:
            await self._recheck()
        reason = self.disabled_reason()
        self.report.disabled = reason
        return reason is None

    async def _recheck(self) -> None:
        self._last_recheck = asyncio.get_running_loop().time()
        try:
            await self.recheck()  # type: ignore[misc]
        except FactsError as err:
            log.info("write-back: re-checking the connection failed: %s", err)

    def _finish(self) -> None:
        if self.report.disabled is None:
            self.report.disabled = self._halt or (
                None if self._stopping() else self.disabled_reason()
            )
        self.report.requests = self.client.stats.requests - self._requests_at_start
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
        return (
            Outbox.state.in_(OPEN_STATES)
            & (Outbox.claimed_until.is_null() | (Outbox.claimed_until < now))
            & Outbox.entry.in_(self._site_entries())
        )

    def _release_dead_claims(self) -> None:
        """Claims of processes of this host that no longer run are released, not waited out."""
        host = _machine()
        now = utcnow()
        held = (
            Outbox.select(Outbox.claimed_by)
            .where(Outbox.claimed_by.is_null(False) & (Outbox.claimed_until >= now))
            .distinct()
            .tuples()
        )
        dead: list[str] = []
        for (claim,) in cast(Any, held):
            owner = _host_pid(str(claim))
            if owner and owner[0] == host and owner[1] != os.getpid() and not _process_alive(owner[1]):
                dead.append(str(claim))
        if dead:
            with write_transaction():
                Outbox.update(claimed_by=None, claimed_until=None).where(
                    Outbox.claimed_by.in_(dead)
                ).execute()

    def _claim(self) -> list[int]:
        """Take up to ``batch_size`` due rows in one UPDATE (SQLite serializes writers)."""
        self._release_dead_claims()
        self._claims += 1
        self._token = f"{self.worker_id}:{self._claims}"
        now = utcnow()
        until = now + timedelta(seconds=self.config.lease_s)
        with write_transaction():
            due = (
                Outbox.select(Outbox.id)
                .where(self._claimable(now) & (Outbox.next_try_at <= now))
                .order_by(Outbox.next_try_at, Outbox.id)
                .limit(self.config.batch_size)
            )
            Outbox.update(claimed_by=self._token, claimed_until=until).where(
                Outbox.id.in_(due)
            ).execute()
            return [r.id for r in Outbox.select(Outbox.id).where(Outbox.claimed_by == self._token)]

    def _release(self) -> None:
        with write_transaction():
            Outbox.update(claimed_by=None, claimed_until=None).where(
                Outbox.claimed_by == self._token
            ).execute()

    async def _heartbeat(self, token: str) -> None:
        while True:
            await asyncio.sleep(self.config.lease_s / 3)
            with write_transaction():
                Outbox.update(
                    claimed_until=utcnow() + timedelta(seconds=self.config.lease_s)
                ).where(Outbox.claimed_by == token).execute()

    def _next_due(self) -> float | None:
        """Seconds until the next row this worker could claim is due; None when none is open."""
        now = utcnow()
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

    def _load(self, ids: Sequence[int]) -> list[_Item]:
        query = (
            Outbox.select(Outbox, HourEntry, Account)
            .join(HourEntry)
            .join(Account)
            .where(Outbox.id.in_(list(ids)) & (Outbox.claimed_by == self._token))
            .order_by(Outbox.id)
        )
        items: list[_Item] = []
        for row in query:
            entry: HourEntry = row.entry
            items.append(
                _Item(
                    row_id=row.id,
                    entry_id=entry.id,
                    kind=cast(Kind, row.resource),
                    reference=row.reference,
                    state=row.state,
                    operation=row.operation,
                    attempts=row.attempts,
                    outcome_unknown=row.outcome_unknown,
                    service_hours_id=row.service_hours_id,
                    person_id=row.person_id,
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

    async def _process(self, ids: Sequence[int]) -> bool:
        """Handle one claimed batch; returns False when FACTS could not be reached at all."""
        token = self._token
        beat = asyncio.create_task(self._heartbeat(token))
        try:
            return await self._process_items(self._load(ids))
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
            self._token = token
            self._release()
            self._progress()

    async def _process_items(self, items: list[_Item]) -> bool:
        lookups = [
            it
            for it in items
            if needs_lookup(
                state=it.state,
                operation=it.operation,
                outcome_unknown=it.outcome_unknown,
                service_hours_id=it.service_hours_id,
            )
        ]
        found: dict[str, list[StudentServiceHoursModel]] = {}
        if lookups:
            try:
                found = await self._lookup(lookups)
            except FactsError as err:
                self._on_lookup_error(lookups, err)
                items = [it for it in items if it not in lookups]
                if not items:
                    return False
        looked = {it.row_id for it in lookups}
        posts: list[_Item] = []
        patches: list[tuple[_Item, int]] = []
        sent: list[_Sent] = []
        for it in items:
            decision = decide(
                state=it.state,
                operation=it.operation,
                service_hours_id=it.service_hours_id,
                looked_up=it.row_id in looked,
                found=found.get(it.reference, []),
                want=it.want,
            )
            self._apply_decision(it, decision, posts, patches, sent, adopted=it.row_id in looked)
        self._mark_sent(sent)
        await asyncio.gather(
            *(self._post(it) for it in posts), *(self._patch(it, sid) for it, sid in patches)
        )
        created = [it for it in posts if it.created]
        if created:
            await self._read_back(created)
        return True

    def _apply_decision(
        self,
        it: _Item,
        decision: Decision,
        posts: list[_Item],
        patches: list[tuple[_Item, int]],
        sent: list[_Sent],
        *,
        adopted: bool,
    ) -> None:
        if decision.reason and decision.action in ("sent", "patch"):
            self.report.duplicates.append(f"entry {it.entry_id}: {decision.reason}")
        if decision.action == "sent":
            assert decision.service_hours_id is not None
            label: Literal["created", "adopted"] = (
                "adopted" if adopted and it.state != "inflight" else "created"
            )
            sent.append(_Sent(it, decision.service_hours_id, it.want, label))
        elif decision.action == "patch":
            assert decision.service_hours_id is not None
            patches.append((it, decision.service_hours_id))
        elif decision.action == "post":
            posts.append(it)
        elif decision.action == "drop":
            self._drop(it, decision.reason)
        else:
            self._retry_later(it, decision.reason, count=True)

    async def _read_back(self, created: list[_Item]) -> None:
        """Learn the ids of rows FACTS accepted (201 has no body), batched by personId."""
        try:
            found = await self._lookup(created)
        except FactsError as err:
            self._on_lookup_error(created, err)
            return
        patches: list[tuple[_Item, int]] = []
        sent: list[_Sent] = []
        wants = self._current_wants(created)
        for it in created:
            want = wants.get(it.row_id)
            if want is None:
                continue
            it.want, it.state = want, "inflight"
            decision = decide(
                state="inflight",
                operation=it.operation,
                service_hours_id=None,
                looked_up=True,
                found=found.get(it.reference, []),
                want=want,
            )
            if decision.action == "sent":
                assert decision.service_hours_id is not None
                sent.append(_Sent(it, decision.service_hours_id, want, "created"))
            elif decision.action == "patch":
                assert decision.service_hours_id is not None
                patches.append((it, decision.service_hours_id))
            else:
                self._retry_later(it, decision.reason, count=True)
        self._mark_sent(sent)
        await asyncio.gather(*(self._patch(it, sid) for it, sid in patches))

    async def _lookup(self, items: Sequence[_Item]) -> dict[str, list[StudentServiceHoursModel]]:
        """FACTS rows carrying these items' references (fresh: ``x-bypass-cache``)."""
        out: dict[str, list[StudentServiceHoursModel]] = {}
        kinds: dict[Kind, list[_Item]] = {}
        for it in items:
            kinds.setdefault(it.kind, []).append(it)
        for kind, group in kinds.items():
            people = {p for it in group if (p := it.person_id or it.want.person_id) is not None}
            if not people:
                continue
            rows = await self.client.list_service_hours(kind, sorted(people), bypass_cache=True)
            out.update(by_reference(rows, {it.reference for it in group}))
        return out

    def _on_lookup_error(self, items: Sequence[_Item], err: FactsError) -> None:
        if isinstance(err, ReadOnly | QuotaExhausted):
            self._halt_on(err)
        for it in items:
            self._retry_later(it, f"looking the entry up in FACTS failed: {err}", count=False)

    # --- sending ----------------------------------------------------------------------------

    def _may_send(self) -> bool:
        return not self._stopping() and not self._halt

    async def _post(self, it: _Item) -> None:
        async with self._sem:
            if not self._may_send():
                return
            body = self._mark_posting(it)
            if body is None:
                return
            try:
                await self.client.post_service_hours(it.kind, body)
            except OutcomeUnknown as err:
                self._after_error(it, err, unknown=True)
            except FactsError as err:
                self._after_error(it, err, unknown=False)
            else:
                self._mark_created(it)
            self._progress()

    async def _patch(self, it: _Item, service_hours_id: int) -> None:
        async with self._sem:
            if not self._may_send():
                return
            want = self._current_want(it)
            if want is None:
                return
            if not self._fenced_update(
                it, attempts=Outbox.attempts + 1, last_attempt_at=utcnow()
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
                self._after_error(it, err, unknown=False)
            else:
                self._mark_sent([_Sent(it, service_hours_id, want, "patched")])
            self._progress()

    # --- recording outcomes (each in its own short write transaction, fenced by the claim) ----

    def _fenced_update(self, it: _Item, **values: Any) -> bool:
        with write_transaction():
            n = (
                Outbox.update(**values)
                .where((Outbox.id == it.row_id) & (Outbox.claimed_by == self._token))
                .execute()
            )
        return bool(n)

    def _mark_posting(self, it: _Item) -> StudentServiceHoursModel | None:
        """Commit 'this POST may reach FACTS' before sending it; returns the body to send."""
        fence = (
            (Outbox.id == it.row_id)
            & (Outbox.claimed_by == self._token)
            & Outbox.state.in_(OPEN_STATES)
        )
        with write_transaction():
            want = self._current_want(it)
            if want is None or not want.live or want.person_id is None:
                # Changed since the decision: owed nothing if FACTS surely never got it.
                if Outbox.delete().where(fence & (Outbox.outcome_unknown == False)).execute():  # noqa: E712
                    self.report.dropped += 1
                return None
            n = (
                Outbox.update(
                    outcome_unknown=True,
                    attempts=Outbox.attempts + 1,
                    person_id=want.person_id,
                    last_attempt_at=utcnow(),
                )
                .where(fence)
                .execute()
            )
        if not n:
            return None
        it.want, it.person_id, it.outcome_unknown = want, want.person_id, True
        it.attempts += 1
        return want.body()

    def _mark_created(self, it: _Item) -> None:
        """FACTS answered 201: the row exists there; its id is read back with the batch."""
        if self._fenced_update(it, state="inflight", outcome_unknown=False, last_error=None):
            it.created, it.state, it.outcome_unknown = True, "inflight", False

    def _mark_sent(self, done: Sequence[_Sent]) -> None:
        """FACTS holds what was sent. An entry changed meanwhile stays owed (one transaction)."""
        if not done:
            return
        now = utcnow()
        with write_transaction():
            wants = self._current_wants([d.item for d in done])
            for d in done:
                it = d.item
                want = wants.get(it.row_id, d.want)
                values: dict[str, Any] = {
                    "service_hours_id": d.service_hours_id,
                    "outcome_unknown": False,
                    "last_error": None,
                    "sent_at": now,
                }
                if want != d.want:
                    values.update(
                        state="pending",
                        operation="update" if want.live else "withdraw",
                        next_try_at=now,
                    )
                else:
                    values.update(state="sent", attempts=0)
                    if not d.want.live:
                        values["operation"] = "withdraw"
                    elif it.operation != "create":
                        values["operation"] = "update"
                n = (
                    Outbox.update(**values)
                    .where((Outbox.id == it.row_id) & (Outbox.claimed_by == self._token))
                    .execute()
                )
                if not n:
                    continue
                if not d.want.live:
                    self.report.withdrawn += 1
                elif d.label == "patched":
                    self.report.updated += 1
                elif d.label == "adopted":
                    self.report.adopted += 1
                else:
                    self.report.created += 1

    def _drop(self, it: _Item, reason: str) -> None:
        """Forget a row FACTS never got whose entry is no longer owed (re-checked in the txn)."""
        with write_transaction():
            want = self._current_want(it)
            if want is not None and want.live and want.person_id is not None:
                return  # approved again meanwhile: still owed
            n = (
                Outbox.delete()
                .where(
                    (Outbox.id == it.row_id)
                    & (Outbox.claimed_by == self._token)
                    & (Outbox.state != "sent")
                )
                .execute()
            )
        if n:
            log.info("write-back: entry %s dropped: %s", it.entry_id, reason)
            self.report.dropped += 1

    def _retry_later(
        self, it: _Item, reason: str, *, count: bool, delay: float | None = None
    ) -> None:
        attempts = it.attempts + (1 if count else 0)
        if count and attempts >= self.config.max_attempts:
            self._fail(it, reason, attempts)
            return
        if delay is None:
            delay = backoff_seconds(
                max(attempts, 1), self.config.backoff_base_s, self.config.backoff_cap_s, self._rng
            )
        if self._fenced_update(
            it,
            attempts=attempts,
            last_error=reason,
            next_try_at=utcnow() + timedelta(seconds=delay),
        ):
            it.attempts = attempts

    def _fail(self, it: _Item, reason: str, attempts: int) -> None:
        if self._fenced_update(it, state="failed", attempts=attempts, last_error=reason):
            self.report.failed += 1
            log.warning("write-back: entry %s failed: %s", it.entry_id, reason)

    def _after_error(self, it: _Item, err: FactsError, *, unknown: bool) -> None:
        """Record a failed POST/PATCH. ``it.attempts`` already counts this attempt."""
        if isinstance(err, ReadOnly | QuotaExhausted):
            # Refused at the gate: nothing was written, and the attempt does not count.
            self._halt_on(err)
            until = err.until.replace(tzinfo=None) if isinstance(err, QuotaExhausted) else utcnow()
            self._fenced_update(
                it,
                outcome_unknown=False,
                attempts=max(it.attempts - 1, 0),
                last_error=str(err),
                next_try_at=until,
            )
            return
        if isinstance(err, ValidationFailed):
            self._fenced_update(it, outcome_unknown=False)
            self._fail(it, str(err), it.attempts)
            return
        if not unknown:
            self._fenced_update(it, outcome_unknown=False)
        delay = err.retry_after if isinstance(err, RateLimited) else None
        if it.attempts >= self.config.max_attempts:
            self._fail(it, str(err), it.attempts)
            return
        if not isinstance(err, RateLimited | FactsUnreachable | OutcomeUnknown):
            log.info("write-back: entry %s: %s", it.entry_id, err)
        self._retry_later(it, str(err), count=False, delay=delay)

    def _halt_on(self, err: FactsError) -> None:
        """FACTS refused on behalf of the whole site: stop sending, say why, keep rows queued."""
        self._halt = str(err)
        if isinstance(err, QuotaExhausted):
            self._paused_until = err.until.astimezone(UTC).replace(tzinfo=None)
            self._paused_reason = str(err)
        if isinstance(err, ReadOnly):
            with write_transaction():
                Connection.update(people_write=False, last_error=str(err)).where(
                    Connection.site == self.site.id
                ).execute()
