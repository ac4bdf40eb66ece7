"""Client-side rate limiting: keep every factsync process of one key under the plan's limits.

FACTS limits each subscription key per second and per minute; a 429 costs a ``Retry-After`` wait,
so the client waits its own turn instead. Each request *reserves* a send time in a ledger of send
times: at most ``limit`` sends in any window of ``seconds`` (sliding windows are stricter than the
gateway's fixed or token-bucket ones), FIFO. The ledger is in memory for one process, or shared by
every process of the store (``store.budget.StoreLedger``) so a wizard, a cron write-back and a
sync together still stay under the plan.

Each window is stretched by a margin that covers how much a request's arrival at the gateway can
shift against its neighbours. It is sized from measurement: the spread of recent round-trip times
and of how late sends leave after their reserved time (``LatencyMeter``), never less than
``MIN_MARGIN`` nor more than ``MAX_MARGIN``. The same meter
sizes how many requests to keep in flight (``in_flight_for``): enough to fill the plan's rate at
the observed latency, since 4 in flight at 800 ms reach only half of 10 requests a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from core.facts.plans import Plan

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

SECOND_MARGIN = 0.1
"""The margin before anything is measured (and the most it grows to): 10% of a 1 s window."""
MAX_MARGIN = SECOND_MARGIN
MIN_MARGIN = 0.02
SCHEDULING_SLACK = 0.005
"""Added to the measured spread: the event loop's delay between a reserved time and the send."""
MIN_SAMPLES = 8
BUSY_FALLBACK_S = 1.0
"""How long a request waits for a busy shared ledger before it reserves in this process only."""


@dataclass(frozen=True)
class Window:
    """At most ``limit`` requests in any ``seconds`` interval."""

    limit: int
    seconds: float


def windows_for(plan: Plan, margin: float = SECOND_MARGIN) -> list[Window]:
    return [Window(plan.per_second, 1.0 + margin), Window(plan.per_minute, 60.0 + margin)]


def sustained_rate(plan: Plan) -> float:
    """Requests per second the plan allows for as long as one likes."""
    return min(float(plan.per_second), plan.per_minute / 60.0)


def in_flight_for(plan: Plan, latency_s: float, *, headroom: float = 1.25) -> int:
    """Requests to keep in flight so the plan's rate is reached at this latency (Little's law),
    with headroom for latency jitter; between 2 and 32."""
    needed = sustained_rate(plan) * max(latency_s, 0.0) * headroom
    return max(2, min(32, math.ceil(needed) + 2))


def _quantile(samples: deque[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class LatencyMeter:
    """Round-trip times of the last requests (their median and spread, p90 - p10), and how late
    the last sends left after their reserved time (a busy event loop or machine)."""

    def __init__(self, size: int = 50) -> None:
        self._samples: deque[float] = deque(maxlen=size)
        self._lags: deque[float] = deque(maxlen=size)

    def observe(self, seconds: float) -> None:
        if seconds >= 0 and math.isfinite(seconds):
            self._samples.append(seconds)

    def observe_lag(self, seconds: float) -> None:
        if math.isfinite(seconds):
            self._lags.append(max(seconds, 0.0))

    def __len__(self) -> int:
        return len(self._samples)

    def median(self, default: float = 0.0) -> float:
        return _quantile(self._samples, 0.5) if self._samples else default

    def spread(self) -> float | None:
        """p90 - p10 of the round trips plus p90 of the lags; None until enough are known."""
        if len(self._samples) < MIN_SAMPLES:
            return None
        lag = _quantile(self._lags, 0.9) if self._lags else 0.0
        return _quantile(self._samples, 0.9) - _quantile(self._samples, 0.1) + lag


def margin_from(meter: LatencyMeter) -> float:
    spread = meter.spread()
    if spread is None:
        return MAX_MARGIN
    return max(MIN_MARGIN, min(MAX_MARGIN, spread + SCHEDULING_SLACK))


class Ledger(Protocol):
    """Where send times are kept: this process's memory, or a table every process shares."""

    def reserve(self, windows: Sequence[Window], margin: float, earliest: float) -> float | None:
        """Record and return the first send time >= ``earliest`` that fits every window
        (stretched by ``margin``); None when the ledger is busy right now (ask again)."""

    def peek(self, windows: Sequence[Window], margin: float, earliest: float) -> float:
        """The time ``reserve`` would give, without recording it."""

    def block_until(self, when: float) -> None:
        """Hold every send until ``when`` (a 429's Retry-After)."""

    def close(self) -> None:
        """Let go of what it holds (a store connection); the client closing calls it."""


class MemoryLedger:
    """Send times of one process (the default)."""

    def __init__(self, size: int) -> None:
        self._stamps: deque[float] = deque(maxlen=max(size, 1))
        self._blocked_until = 0.0

    def peek(self, windows: Sequence[Window], margin: float, earliest: float) -> float:
        at = max(earliest, self._blocked_until)
        for w in windows:
            if len(self._stamps) >= w.limit:
                at = max(at, self._stamps[-w.limit] + w.seconds + margin)
        return at

    def reserve(self, windows: Sequence[Window], margin: float, earliest: float) -> float:
        at = self.peek(windows, margin, earliest)
        self._stamps.append(at)
        return at

    def block_until(self, when: float) -> None:
        self._blocked_until = max(self._blocked_until, when)

    def close(self) -> None:
        pass


class RateLimiter:
    """Waits before each request until its reserved send time; FIFO across tasks."""

    def __init__(
        self,
        windows: list[Window],
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        ledger: Ledger | None = None,
        meter: LatencyMeter | None = None,
    ) -> None:
        if not windows or any(w.limit < 1 or w.seconds <= 0 for w in windows):
            raise ValueError("rate limiter needs windows with a positive limit and length")
        self.windows = list(windows)
        self._clock = clock
        self._sleep = sleep
        self.ledger: Ledger = ledger or MemoryLedger(max(w.limit for w in windows))
        self.meter = meter
        """With a meter, each window is stretched by the margin measured from it."""
        self._local = (
            self.ledger
            if isinstance(self.ledger, MemoryLedger)
            else MemoryLedger(max(w.limit for w in windows))
        )
        """Used when the shared ledger stays busy (another process holds the store's write
        lock for long): this process alone still keeps under the plan; 429s from others are
        waited out."""
        self._lock = asyncio.Lock()
        self._busy_at = -math.inf

    @classmethod
    def for_plan(
        cls,
        plan: Plan,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        ledger: Ledger | None = None,
        meter: LatencyMeter | None = None,
    ) -> RateLimiter:
        """The plan's windows, stretched by a margin sized from ``meter`` (a fresh one if None)."""
        return cls(
            windows_for(plan, 0.0),
            clock=clock,
            sleep=sleep,
            ledger=ledger,
            meter=meter if meter is not None else LatencyMeter(),
        )

    @property
    def margin(self) -> float:
        return 0.0 if self.meter is None else margin_from(self.meter)

    def delay(self, now: float | None = None) -> float:
        """Seconds until one more request fits (0 when it fits now)."""
        now = self._clock() if now is None else now
        return max(self.ledger.peek(self.windows, self.margin, now) - now, 0.0)

    def block_for(self, seconds: float) -> None:
        """Hold every request for ``seconds`` (the gateway answered 429 with Retry-After)."""
        until = self._clock() + max(seconds, 0.0)
        self.ledger.block_until(until)
        if self._local is not self.ledger:
            self._local.block_until(until)

    async def acquire(self, on_wait: Callable[[float], None] | None = None) -> float:
        """Take a send time, sleeping until it comes; returns the seconds this call slept."""
        slept = 0.0
        busy = 0.02
        busy_for = 0.0
        async with self._lock:
            while True:
                now = self._clock()
                ledger = self.ledger if busy_for < BUSY_FALLBACK_S else self._local
                at = ledger.reserve(self.windows, self.margin, now)
                if at is None and now - self._busy_at < BUSY_FALLBACK_S:
                    ledger = self._local  # still busy as a moment ago: do not wait again
                    at = ledger.reserve(self.windows, self.margin, now)
                    self._busy_at = now
                if at is None:  # the shared ledger is locked by another process: ask again
                    self._busy_at = now
                    await self._sleep(busy)
                    slept += busy
                    busy_for += busy
                    busy = min(busy * 2, 0.5)
                    continue
                wait = at - now
                if wait <= 0:
                    break
                if on_wait is not None:
                    on_wait(wait)
                await self._sleep(wait)
                slept += wait
                if ledger.peek((), 0.0, at) <= at + 1e-9:
                    if self.meter is not None:
                        self.meter.observe_lag(self._clock() - at)
                    break  # no 429 blocked everyone meanwhile: the reserved time is ours
        return slept


class InFlightGate:
    """At most ``limit`` requests in flight, first come first served; the limit follows the
    observed latency (it may change between batches)."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._active = 0
        self._waiting: deque[asyncio.Future[None]] = deque()

    async def __aenter__(self) -> None:
        if self._active < self.limit and not self._waiting:
            self._active += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            await waiter  # the slot is handed over by __aexit__ (already counted)
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._hand_over()  # got the slot while being cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):
                    self._waiting.remove(waiter)
            raise

    async def __aexit__(self, *exc: object) -> None:
        self._hand_over()

    def _hand_over(self) -> None:
        self._active -= 1
        while self._waiting and self._active < self.limit:
            waiter = self._waiting.popleft()
            if not waiter.done():
                self._active += 1
                waiter.set_result(None)
