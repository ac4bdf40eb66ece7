"""Injected faults and latency, in-process: what the client sees and what the sandbox committed."""

from __future__ import annotations

import time

import httpx
import pytest

from core.facts.plans import SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY
from core.facts.sandbox import Faults, Sandbox, SandboxConfig, School, generate_school

BASE = "https://api.factsmgt.com"
HEADERS = {"Ocp-Apim-Subscription-Key": SANDBOX_SUBSCRIPTION_KEY, "Facts-Api-Key": SANDBOX_API_KEY}


@pytest.fixture(scope="module")
def school() -> School:
    return generate_school(families=10, seed=4)


def make(school: School, **faults: float) -> Sandbox:
    return Sandbox(school, SandboxConfig(rate_limits=False, faults=Faults(**faults)))


def hours_body(school: School) -> dict[str, object]:
    return {"serviceHoursId": 0, "personId": school.people[0]["personId"], "hours": 1.0}


async def test_p500(school: School) -> None:
    sb = make(school, p500=1.0)
    async with httpx.AsyncClient(transport=sb.transport(), base_url=BASE, headers=HEADERS) as c:
        r = await c.post("/Students/ServiceHours", json=hours_body(school))
    assert r.status_code == 500
    assert r.text.startswith("System.InvalidOperationException: An unexpected error occurred.")
    assert "not found." not in r.text
    assert sb.service_hours("students") == []
    assert sb.requests[0].fault == "p500" and sb.requests[0].status == 500


async def test_p429(school: School) -> None:
    sb = make(school, p429=1.0)
    async with httpx.AsyncClient(transport=sb.transport(), base_url=BASE, headers=HEADERS) as c:
        r = await c.get("/People")
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    assert r.json()["message"] == "Rate limit is exceeded. Try again in 1 seconds."
    assert sb.requests[0].fault == "p429"


async def test_drop_before_commits_nothing(school: School) -> None:
    sb = make(school, drop_before=1.0)
    async with httpx.AsyncClient(transport=sb.transport(), base_url=BASE, headers=HEADERS) as c:
        with pytest.raises(httpx.RemoteProtocolError):
            await c.post("/Students/ServiceHours", json=hours_body(school))
    assert sb.service_hours("students") == []
    rec = sb.requests[0]
    assert rec.fault == "drop_before" and rec.status == 0


async def test_drop_after_commit_commits(school: School) -> None:
    sb = make(school, drop_after_commit=1.0)
    async with httpx.AsyncClient(transport=sb.transport(), base_url=BASE, headers=HEADERS) as c:
        with pytest.raises(httpx.TransportError):
            await c.post("/Students/ServiceHours", json=hours_body(school))
    assert len(sb.service_hours("students")) == 1
    rec = sb.requests[0]
    assert rec.fault == "drop_after_commit" and rec.status == 201


def test_drop_in_sync_transport(school: School) -> None:
    sb = make(school, drop_before=1.0)
    client = httpx.Client(transport=sb.sync_transport(), base_url=BASE, headers=HEADERS)
    with client as c, pytest.raises(httpx.RemoteProtocolError):
        c.get("/People")


async def test_slow_and_latency(school: School) -> None:
    sb = Sandbox(
        school,
        SandboxConfig(rate_limits=False, latency_ms=20, faults=Faults(slow=1.0, slow_s=0.05)),
    )
    async with httpx.AsyncClient(transport=sb.transport(), base_url=BASE, headers=HEADERS) as c:
        started = time.perf_counter()
        r = await c.get("/SchoolYears")
        elapsed = time.perf_counter() - started
    assert r.status_code == 200
    assert elapsed >= 0.07
    assert sb.requests[0].fault == "slow" and sb.requests[0].duration_s >= 0.07


async def test_fractions_are_seeded_and_roughly_right(school: School) -> None:
    async def run() -> list[int]:
        sb = make(school, p500=0.3, p429=0.1, seed=42)
        async with httpx.AsyncClient(transport=sb.transport(), base_url=BASE, headers=HEADERS) as c:
            return [(await c.get("/SchoolYears")).status_code for _ in range(300)]

    first, second = await run(), await run()
    assert first == second
    share_500 = first.count(500) / len(first)
    share_429 = first.count(429) / len(first)
    assert 0.18 < share_500 < 0.36  # 0.3 of the ~90% not already refused with a 429
    assert 0.04 < share_429 < 0.17
    assert first.count(200) + first.count(500) + first.count(429) == 300
