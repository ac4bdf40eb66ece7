"""Per-subscription-key rate limits and daily quota, shaped like Azure API Management's.

The gateway counts calls in a sliding window: a call is admitted when fewer than ``limit`` calls
were admitted in the ``period`` seconds before it, so a burst at the end of one minute and another
at the start of the next is refused (a fixed window would let both through). ``quota-by-key``
renews at midnight UTC. A refused call is not counted. Time comes from an injectable clock so
tests can walk through windows without sleeping.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from core.facts.plans import Plan

Clock = Callable[[], float]
DAY_S = 86_400


@dataclass
class _Window:
    """Times of the calls admitted in the last ``period`` seconds."""

    period: float
    limit: int
    calls: deque[float] = field(default_factory=deque)

    def roll(self, now: float) -> None:
        while self.calls and self.calls[0] <= now - self.period:
            self.calls.popleft()

    @property
    def count(self) -> int:
        return len(self.calls)

    def retry_after(self, now: float) -> int:
        """Seconds until the oldest call in the window leaves it."""
        return max(1, math.ceil(self.calls[0] + self.period - now))


@dataclass
class _KeyState:
    second: _Window
    minute: _Window
    day_start: float = -math.inf
    day_count: int = 0


@dataclass(frozen=True)
class Refusal:
    """Why a call was refused: ``status`` 429 (rate) or 403 (quota), and seconds to wait."""

    status: int
    retry_after: int

    @property
    def message(self) -> str:
        if self.status == 429:
            return f"Rate limit is exceeded. Try again in {self.retry_after} seconds."
        hours, rest = divmod(self.retry_after, 3600)
        minutes, seconds = divmod(rest, 60)
        return (
            "Out of call volume quota. Quota will be replenished in "
            f"{hours:02d}:{minutes:02d}:{seconds:02d}."
        )


@dataclass
class RateLimiter:
    plan: Plan
    keys: dict[str, _KeyState] = field(default_factory=dict)

    def _state(self, key: str) -> _KeyState:
        state = self.keys.get(key)
        if state is None:
            state = _KeyState(
                _Window(1.0, self.plan.per_second), _Window(60.0, self.plan.per_minute)
            )
            self.keys[key] = state
        return state

    def admit(self, key: str, now: float) -> Refusal | None:
        """Count one call for ``key`` at ``now``, or say why it is refused (and do not count it)."""
        state = self._state(key)
        day_start = math.floor(now / DAY_S) * DAY_S
        if day_start != state.day_start:
            state.day_start, state.day_count = day_start, 0
        if state.day_count >= self.plan.daily:
            return Refusal(403, max(1, math.ceil(day_start + DAY_S - now)))
        for window in (state.second, state.minute):
            window.roll(now)
        waits = [w.retry_after(now) for w in (state.second, state.minute) if w.count >= w.limit]
        if waits:
            return Refusal(429, max(waits))
        state.second.calls.append(now)
        state.minute.calls.append(now)
        state.day_count += 1
        return None
