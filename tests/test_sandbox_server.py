"""The sandbox over real loopback HTTP (serve_in_thread): same behaviour as in-process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest

from core.facts.plans import SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY
from core.facts.sandbox import (
    Faults,
    LoopbackServer,
    Sandbox,
    SandboxConfig,
    School,
    generate_school,
    serve_in_thread,
)

HEADERS = {"Ocp-Apim-Subscription-Key": SANDBOX_SUBSCRIPTION_KEY, "Facts-Api-Key": SANDBOX_API_KEY}


@pytest.fixture(scope="module")
def school() -> School:
    return generate_school(families=40, seed=8)


@pytest.fixture
def server(school: School) -> Iterator[LoopbackServer]:
    sb = Sandbox(school, SandboxConfig(rate_limits=False, latency_ms=0))
    with serve_in_thread(sb, port=0) as srv:
        yield srv


def test_base_url_and_paging_over_http(server: LoopbackServer, school: School) -> None:
    assert server.base_url.startswith("http://127.0.0.1:")
    with httpx.Client(base_url=server.base_url, headers=HEADERS) as c:
        r = c.get("/people/PersonFamily", params={"pageSize": 50, "filters": "familyId>0"})
        assert r.status_code == 200
        body = r.json()
        assert body["nextPage"].startswith(server.base_url + "/People/PersonFamily?")
        total = len(body["results"])
        while body["nextPage"]:
            body = c.get(body["nextPage"]).json()
            total += len(body["results"])
    assert total == len(school.personFamily)
    assert server.sandbox.count(path_prefix="/People/PersonFamily", status=200) >= 2


def test_errors_over_http(server: LoopbackServer) -> None:
    with httpx.Client(base_url=server.base_url) as c:
        r = c.get("/People")
        assert r.status_code == 401 and "missing subscription key" in r.json()["message"]
        r = c.get("/Nope", headers=HEADERS)
        assert r.json() == {"statusCode": 404, "message": "Resource not found"}
        r = c.get("/People", params={"Filters": "nope==1"}, headers=HEADERS)
        assert r.status_code == 500 and r.headers["content-type"].startswith("text/plain")
        first, *stack = r.text.splitlines()
        assert first == "Sieve.Exceptions.SieveMethodNotFoundException: nope not found."
        assert stack and all(line.startswith("   at ") for line in stack)


def test_post_and_read_back_over_http(server: LoopbackServer, school: School) -> None:
    pid = school.people[0]["personId"]
    with httpx.Client(base_url=server.base_url, headers=HEADERS) as c:
        r = c.post(
            "/Students/ServiceHours", json={"personId": pid, "hours": 2, "date": "2026-11-05"}
        )
        assert r.status_code == 201 and r.content == b""
        got = c.get("/Students/ServiceHours", params={"Filters": f"personId=={pid}"}).json()
    assert got["rowCount"] == 1 and got["results"][0]["date"] == "2026-11-05T00:00:00Z"


async def test_concurrent_requests_with_latency(school: School) -> None:
    sb = Sandbox(school, SandboxConfig(rate_limits=False, latency_ms=100))
    with serve_in_thread(sb) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url, headers=HEADERS) as c:
            started = time.perf_counter()
            results = await asyncio.gather(*(c.get("/SchoolYears") for _ in range(10)))
            elapsed = time.perf_counter() - started
    assert all(r.status_code == 200 for r in results)
    assert elapsed < 0.8  # ten 100 ms requests in parallel, not one after another
    assert sb.count() == 10 and min(r.duration_s for r in sb.requests) >= 0.09


def _post_expecting_drop(sb: Sandbox, body: dict[str, object]) -> None:
    with (
        serve_in_thread(sb) as srv,
        httpx.Client(base_url=srv.base_url, headers=HEADERS) as c,
        pytest.raises(httpx.TransportError),
    ):
        c.post("/Students/ServiceHours", json=body)


def test_drops_over_http(school: School) -> None:
    body: dict[str, object] = {"personId": school.people[0]["personId"], "hours": 1}
    before = Sandbox(school, SandboxConfig(rate_limits=False, faults=Faults(drop_before=1.0)))
    _post_expecting_drop(before, body)
    assert before.service_hours("students") == []

    after = Sandbox(school, SandboxConfig(rate_limits=False, faults=Faults(drop_after_commit=1.0)))
    _post_expecting_drop(after, body)
    assert len(after.service_hours("students")) == 1
    assert after.requests[0].fault == "drop_after_commit"


def test_rate_limit_header_over_http(school: School) -> None:
    sb = Sandbox(school, SandboxConfig(plan="basic"))
    with serve_in_thread(sb) as srv, httpx.Client(base_url=srv.base_url, headers=HEADERS) as c:
        statuses = [c.get("/SchoolYears").status_code for _ in range(11)]
        last = c.get("/SchoolYears")
    assert statuses[:10] == [200] * 10 and statuses[10] == 429
    assert int(last.headers["retry-after"]) >= 1
