"""The client-side rate limiter, on a fake clock: windows, FIFO sharing, 429 blocks."""

from __future__ import annotations

import asyncio

import pytest

from core.facts.plans import PLANS
from core.facts.ratelimit import RateLimiter, Window, windows_for


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def limiter(clock: FakeClock, *windows: Window) -> RateLimiter:
    return RateLimiter(list(windows), clock=clock, sleep=clock.sleep)


async def test_per_second_window() -> None:
    clock = FakeClock()
    rl = limiter(clock, Window(10, 1.0))
    stamps = []
    for _ in range(25):
        await rl.acquire()
        stamps.append(round(clock.now - 1000.0, 6))
    assert stamps == [0.0] * 10 + [1.0] * 10 + [2.0] * 5


async def test_both_windows_apply() -> None:
    clock = FakeClock()
    rl = limiter(clock, Window(10, 1.0), Window(15, 60.0))
    for _ in range(15):
        await rl.acquire()
    assert clock.now == pytest.approx(1001.0)
    await rl.acquire()
    assert clock.now == pytest.approx(1060.0)


async def test_any_window_of_the_plan_stays_under_the_limit() -> None:
    clock = FakeClock()
    plan = PLANS["pro"]
    rl = RateLimiter(windows_for(plan), clock=clock, sleep=clock.sleep)
    stamps = []
    for _ in range(250):
        await rl.acquire()
        stamps.append(clock.now)
    for i, start in enumerate(stamps):
        in_second = sum(1 for s in stamps[i:] if s < start + 1.0)
        in_minute = sum(1 for s in stamps[i:] if s < start + 60.0)
        assert in_second <= plan.per_second
        assert in_minute <= plan.per_minute


async def test_concurrent_tasks_share_the_limit_and_report_waits() -> None:
    clock = FakeClock()
    rl = limiter(clock, Window(5, 1.0))
    waits: list[float] = []
    slept = await asyncio.gather(*(rl.acquire(waits.append) for _ in range(12)))
    assert clock.now == pytest.approx(1002.0)
    assert sum(slept) == pytest.approx(sum(waits))
    assert sum(1 for s in slept if s > 0) == 2  # the 6th and 11th waited; the rest fit


async def test_block_for_holds_every_request() -> None:
    clock = FakeClock()
    rl = limiter(clock, Window(100, 1.0))
    await rl.acquire()
    rl.block_for(7)
    assert rl.delay() == pytest.approx(7)
    await rl.acquire()
    assert clock.now == pytest.approx(1007.0)


def test_bad_windows_are_refused() -> None:
    with pytest.raises(ValueError):
        RateLimiter([])
    with pytest.raises(ValueError):
        RateLimiter([Window(0, 1.0)])
