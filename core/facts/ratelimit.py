"""Client-side rate limiter that keeps a FACTS client under its plan's limits.

FACTS limits each subscription key per second and per minute; a 429 costs a ``Retry-After`` wait,
so the client waits its own turn instead. Sliding windows over send times are stricter than the
gateway's fixed or token-bucket windows; each window is also a little longer than the plan's to
absorb latency jitter between our clock and the gateway's. One limiter serves all tasks of a client.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from core.facts.plans import Plan

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

SECOND_MARGIN = 0.1
"""Seconds added to each window: covers latency differences between consecutive requests."""


@dataclass(frozen=True)
class Window:
    """At most ``limit`` requests in any ``seconds`` interval."""

    limit: int
    seconds: float


def windows_for(plan: Plan, margin: float = SECOND_MARGIN) -> list[Window]:
    return [Window(plan.per_second, 1.0 + margin), Window(plan.per_minute, 60.0 + margin)]


class RateLimiter:
    """Waits before each request until every window has room; FIFO across tasks."""

    def __init__(
        self,
        windows: list[Window],
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if not windows or any(w.limit < 1 or w.seconds <= 0 for w in windows):
            raise ValueError("rate limiter needs windows with a positive limit and length")
        self.windows = list(windows)
        self._clock = clock
        self._sleep = sleep
        self._stamps: deque[float] = deque(maxlen=max(w.limit for w in windows))
        self._blocked_until = 0.0
        self._lock = asyncio.Lock()

    @classmethod
    def for_plan(
        cls, plan: Plan, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep
    ) -> RateLimiter:
        return cls(windows_for(plan), clock=clock, sleep=sleep)

    def delay(self, now: float | None = None) -> float:
        """Seconds until one more request fits (0 when it fits now)."""
        now = self._clock() if now is None else now
        wait = self._blocked_until - now
        for w in self.windows:
            if len(self._stamps) >= w.limit:
                wait = max(wait, self._stamps[-w.limit] + w.seconds - now)
        return max(wait, 0.0)

    def block_for(self, seconds: float) -> None:
        """Hold every request for ``seconds`` (the gateway answered 429 with Retry-After)."""
        self._blocked_until = max(self._blocked_until, self._clock() + max(seconds, 0.0))

    async def acquire(self, on_wait: Callable[[float], None] | None = None) -> float:
        """Take a slot, sleeping as needed; returns the seconds this call slept."""
        slept = 0.0
        async with self._lock:
            while True:
                now = self._clock()
                wait = self.delay(now)
                if wait <= 0:
                    break
                if on_wait is not None:
                    on_wait(wait)
                await self._sleep(wait)
                slept += wait
            self._stamps.append(now)
        return slept
