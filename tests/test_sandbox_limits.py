"""Sandbox rate limits, daily quota (injected clock) and the response cache."""

from __future__ import annotations

import httpx
import pytest

from core.facts.plans import SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY, Plan
from core.facts.sandbox import Sandbox, SandboxConfig, School, generate_school
from core.facts.sandbox.ratelimit import RateLimiter

BASE = "https://api.factsmgt.com"
HEADERS = {"Ocp-Apim-Subscription-Key": SANDBOX_SUBSCRIPTION_KEY, "Facts-Api-Key": SANDBOX_API_KEY}
DAY = 86_400.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def school() -> School:
    return generate_school(families=20, seed=5)


def client_for(sb: Sandbox) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=sb.transport(), base_url=BASE, headers=HEADERS)


async def statuses(c: httpx.AsyncClient, n: int, path: str = "/SchoolYears") -> list[int]:
    return [(await c.get(path)).status_code for _ in range(n)]


async def test_per_second_limit_pro(school: School) -> None:
    clock = Clock(1_000_000.0)
    sb = Sandbox(school, SandboxConfig(plan="pro"), clock=clock)
    async with client_for(sb) as c:
        assert await statuses(c, 10) == [200] * 10
        r = await c.get("/SchoolYears")
        assert r.status_code == 429
        assert r.headers["Retry-After"] == "1"
        assert r.json() == {
            "statusCode": 429,
            "message": "Rate limit is exceeded. Try again in 1 seconds.",
        }
        clock.now += 1.0
        assert await statuses(c, 10) == [200] * 10


async def test_per_minute_limit_basic(school: School) -> None:
    clock = Clock(2_000_000.0)
    sb = Sandbox(school, SandboxConfig(plan="basic"), clock=clock)
    async with client_for(sb) as c:
        for _ in range(10):
            clock.now += 2.0  # well under 10/s, but 10/min is the wall
            assert (await c.get("/SchoolYears")).status_code == 200
        r = await c.get("/SchoolYears")
        assert r.status_code == 429
        wait = int(r.headers["Retry-After"])
        assert wait == 60 - 18
        assert r.json()["message"] == f"Rate limit is exceeded. Try again in {wait} seconds."
        clock.now += wait
        assert (await c.get("/SchoolYears")).status_code == 200


async def test_refused_and_unauthenticated_calls_do_not_count(school: School) -> None:
    clock = Clock(3_000_000.0)
    sb = Sandbox(school, SandboxConfig(plan="basic"), clock=clock)
    async with client_for(sb) as c:
        for _ in range(15):
            assert (
                await c.get("/SchoolYears", headers={"Facts-Api-Key": "bad"})
            ).status_code == 401
        async with httpx.AsyncClient(transport=sb.transport(), base_url=BASE) as anon:
            assert (await anon.get("/SchoolYears")).status_code == 401
        assert await statuses(c, 10) == [200] * 10
        assert await statuses(c, 5) == [429] * 5
        clock.now += 60
        assert await statuses(c, 10) == [200] * 10


async def test_limits_are_per_subscription_key(school: School) -> None:
    clock = Clock(4_000_000.0)
    cfg = SandboxConfig(plan="basic", subscription_keys=[SANDBOX_SUBSCRIPTION_KEY, "vendor-2"])
    sb = Sandbox(school, cfg, clock=clock)
    async with client_for(sb) as c:
        assert await statuses(c, 11) == [200] * 10 + [429]
        r = await c.get("/SchoolYears", headers={"Ocp-Apim-Subscription-Key": "vendor-2"})
        assert r.status_code == 200


async def test_daily_quota_is_403_with_retry_after(school: School) -> None:
    midnight = 20_000 * DAY
    clock = Clock(midnight + 20 * 3600 + 5)
    tiny = Plan("basic", per_second=100, per_minute=100, daily=3)
    sb = Sandbox(school, SandboxConfig(plan=tiny), clock=clock)
    async with client_for(sb) as c:
        assert await statuses(c, 3) == [200] * 3
        r = await c.get("/SchoolYears")
        assert r.status_code == 403
        assert r.headers["Retry-After"] == str(3 * 3600 + 59 * 60 + 55)
        assert r.json() == {
            "statusCode": 403,
            "message": "Out of call volume quota. Quota will be replenished in 03:59:55.",
        }
        clock.now = midnight + DAY + 1
        assert (await c.get("/SchoolYears")).status_code == 200


async def test_rate_limits_off(school: School) -> None:
    sb = Sandbox(school, SandboxConfig(plan="basic", rate_limits=False), clock=Clock(0.0))
    async with client_for(sb) as c:
        assert await statuses(c, 30) == [200] * 30


def test_limiter_unit() -> None:
    limiter = RateLimiter(Plan("pro", per_second=2, per_minute=3, daily=100))
    assert limiter.admit("k", 10.0) is None
    assert limiter.admit("k", 10.5) is None
    refusal = limiter.admit("k", 10.9)
    assert refusal is not None and refusal.status == 429 and refusal.retry_after == 1
    assert limiter.admit("k", 11.0) is None
    refusal = limiter.admit("k", 11.2)
    assert refusal is not None and refusal.retry_after == 59


# --- cache ----------------------------------------------------------------------------------------


async def test_cache_hides_a_fresh_write_until_bypassed(school: School) -> None:
    clock = Clock(5_000_000.0)
    sb = Sandbox(school, SandboxConfig(cache=True, rate_limits=False), clock=clock)
    person_id = school.people[0]["personId"]
    params = {"Filters": f"personId=={person_id},date==2026-11-02"}
    async with client_for(sb) as c:
        assert (await c.get("/Students/ServiceHours", params=params)).json()["rowCount"] == 0
        body = {"serviceHoursId": 0, "personId": person_id, "hours": 2, "date": "2026-11-02"}
        assert (await c.post("/Students/ServiceHours", json=body)).status_code == 201
        stale = await c.get("/Students/ServiceHours", params=params)
        assert stale.json()["rowCount"] == 0
        assert sb.requests[-1].cached
        fresh = await c.get(
            "/Students/ServiceHours", params=params, headers={"x-bypass-cache": "1764374400"}
        )
        assert fresh.json()["rowCount"] == 1
        assert not sb.requests[-1].cached


async def test_cache_expires_after_120_s_and_is_per_key(school: School) -> None:
    clock = Clock(6_000_000.0)
    cfg = SandboxConfig(
        cache=True,
        rate_limits=False,
        api_keys={SANDBOX_API_KEY: {"People": "Write"}, "other": {"People": "Write"}},
    )
    sb = Sandbox(school, cfg, clock=clock)
    person_id = school.people[0]["personId"]
    params = {"Filters": f"personId=={person_id}"}
    async with client_for(sb) as c:
        await c.get("/Parents/ServiceHours", params=params)
        await c.post("/Parents/ServiceHours", json={"personId": person_id, "hours": 1})
        assert (await c.get("/Parents/ServiceHours", params=params)).json()["rowCount"] == 0
        other = await c.get(
            "/Parents/ServiceHours", params=params, headers={"Facts-Api-Key": "other"}
        )
        assert other.json()["rowCount"] == 1
        clock.now += 119
        assert (await c.get("/Parents/ServiceHours", params=params)).json()["rowCount"] == 0
        clock.now += 2
        assert (await c.get("/Parents/ServiceHours", params=params)).json()["rowCount"] == 1


async def test_cache_is_on_by_default_as_in_facts(school: School) -> None:
    """A read-back without x-bypass-cache shows the stale list, as FACTS's 120 s cache does."""
    sb = Sandbox(school, SandboxConfig(rate_limits=False))
    person_id = school.people[0]["personId"]
    async with client_for(sb) as c:
        await c.get("/Students/ServiceHours")
        await c.post("/Students/ServiceHours", json={"personId": person_id, "hours": 1})
        assert (await c.get("/Students/ServiceHours")).json()["rowCount"] == 0
        fresh = await c.get("/Students/ServiceHours", headers={"x-bypass-cache": "1"})
        assert fresh.json()["rowCount"] == 1
    off = Sandbox(school, SandboxConfig(rate_limits=False, cache=False))
    async with client_for(off) as c:
        await c.get("/Students/ServiceHours")
        await c.post("/Students/ServiceHours", json={"personId": person_id, "hours": 1})
        assert (await c.get("/Students/ServiceHours")).json()["rowCount"] == 1
