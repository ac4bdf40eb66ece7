"""A burst of concurrent requests stays under the plan's limits: the sandbox never answers 429."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from core.facts.client import ClientEvent, RateLimitWait
from tests.test_client_support import FakeClock, make_client, make_sandbox


async def burst(n: int, *, clock: FakeClock | None, plan: str = "enterprise") -> tuple[int, int]:
    sb = make_sandbox(plan=plan, clock=clock)
    events: list[ClientEvent] = []
    async with make_client(sb, clock=clock, events=events) as client:
        await asyncio.gather(*(client.get_page("/People", page_size=1) for _ in range(n)))
        assert client.stats.requests == n
        assert client.stats.rate_limit_waits == sum(isinstance(e, RateLimitWait) for e in events)
    assert sb.count() == n
    return sb.count(status=429), client.stats.rate_limit_waits


async def test_200_requests_at_10_per_second_get_no_429_on_a_shared_fake_clock() -> None:
    clock = FakeClock()
    start = clock.now
    rejected, waits = await burst(200, clock=clock)
    assert rejected == 0
    assert waits > 0
    # 200 requests at 10 per (1 s + margin): about 20-22 s of sandbox time, not more.
    assert 19.0 <= clock.now - start <= 23.0


async def test_basic_plan_minute_window_on_a_fake_clock() -> None:
    clock = FakeClock()
    start = clock.now
    rejected, _ = await burst(25, clock=clock, plan="basic")  # 10/min
    assert rejected == 0
    assert clock.now - start >= 120.0


async def test_real_time_burst_gets_no_429() -> None:
    started = time.perf_counter()
    rejected, waits = await burst(35, clock=None)
    elapsed = time.perf_counter() - started
    assert rejected == 0 and waits > 0
    assert 3.0 <= elapsed < 6.0


@pytest.mark.skipif(
    not os.environ.get("FACTSYNC_SLOW_TESTS"),
    reason="22 s of real time; the fake-clock test above covers the same burst",
)
async def test_real_time_200_request_burst_gets_no_429() -> None:
    rejected, _ = await burst(200, clock=None)
    assert rejected == 0
