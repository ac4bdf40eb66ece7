"""Paging to the last page, filters and id batches, headers: asserted on what the sandbox saw."""

from __future__ import annotations

import pytest

from core.facts import sieve
from core.facts.client import ClientEvent, RequestDone
from core.facts.errors import NotFound
from core.facts.models import ParentStudentVM_V1_1, PersonVM, StudentModelV1_3
from tests.test_client_support import API_KEY, SUB_KEY, FakeClock, make_client, make_sandbox


async def test_every_request_has_both_keys_and_api_version() -> None:
    sb = make_sandbox()
    async with make_client(sb) as client:
        await client.get_page("/People", page_size=5)
        with pytest.raises(NotFound):
            await client.patch("/People/0", [{"op": "test", "path": "/personId", "value": 0}])
    for r in sb.requests:
        assert r.headers["ocp-apim-subscription-key"] == SUB_KEY
        assert r.headers["facts-api-key"] == API_KEY
        assert r.query["api-version"] == "1"


async def test_zero_pages() -> None:
    sb = make_sandbox()
    async with make_client(sb) as client:
        result = await client.get_all("/People", PersonVM, filters=sieve.eq("personId", 0))
    assert (result.items, result.row_count, result.pages) == ([], 0, 1)
    assert sb.count() == 1


async def test_one_page() -> None:
    sb = make_sandbox()
    async with make_client(sb) as client:
        result = await client.get_all("/People", PersonVM)
    assert len(result.items) == result.row_count == len(sb.school.people)
    assert result.pages == 1
    assert sb.count() == 1
    assert sb.requests[0].query["PageSize"] == "6000"


async def test_many_pages_reach_the_last_one_in_order() -> None:
    clock = FakeClock()  # ~20 pages at 10/s: let the limiter sleep on a fake clock
    sb = make_sandbox(clock=clock)
    events: list[ClientEvent] = []
    async with make_client(sb, events=events, clock=clock) as client:
        result = await client.get_all("/People", PersonVM, page_size=7, sorts="personId")
    total = len(sb.school.people)
    pages = -(-total // 7)
    assert result.pages == pages and sb.count() == pages
    assert [p.personId for p in result.items] == sorted(
        int(p["personId"]) for p in sb.school.people
    )
    assert sorted(int(r.query["Page"]) for r in sb.requests) == list(range(1, pages + 1))
    assert all(r.query["Sorts"] == "personId" for r in sb.requests)
    assert client.stats.records == total
    done = [e for e in events if isinstance(e, RequestDone)]
    assert len(done) == pages and sum(e.records for e in done) == total


async def test_filters_are_escaped_and_sent() -> None:
    sb = make_sandbox()
    name = str(sb.school.people[0]["lastName"]).strip()
    async with make_client(sb) as client:
        await client.get_all("/People", PersonVM, filters=[sieve.eq("lastName", name)])
        await client.get_page("/People", filters=sieve.eq("lastName", "Smith, Jr|x"))
    assert sb.requests[0].query["Filters"] == f"lastName=={name}"
    assert sb.requests[1].query["Filters"] == "lastName==Smith\\, Jr\\|x"


async def test_includes_param_passes_through() -> None:
    sb = make_sandbox()
    async with make_client(sb) as client:
        result = await client.get_all(
            "/Students", StudentModelV1_3, params={"includes": "demographics"}
        )
    assert all(s.demographics and s.demographics.person for s in result.items)
    assert sb.requests[0].query["includes"] == "demographics"


@pytest.mark.parametrize("count", [1, 150, 151, 400])
async def test_get_by_ids_batches_at_most_150(count: int) -> None:
    sb = make_sandbox(families=120)
    ids = [int(p["personId"]) for p in sb.school.people][:count]
    assert len(ids) == count
    async with make_client(sb) as client:
        people = await client.get_by_ids("/People", PersonVM, "personId", ids + ids[:3])
    assert sorted(p.personId for p in people) == sorted(ids)
    batches = -(-count // 150)
    assert sb.count() == batches
    sent = [r.query["Filters"] for r in sb.requests]
    assert all(f.startswith("personId==") for f in sent)
    sizes = sorted(len(f.removeprefix("personId==").split("|")) for f in sent)
    assert sum(sizes) == count and max(sizes) <= 150


async def test_get_by_ids_with_extra_filters_and_no_ids() -> None:
    sb = make_sandbox()
    link = sb.school.parentStudent[0]
    async with make_client(sb) as client:
        assert await client.get_by_ids("/People/ParentStudent", ParentStudentVM_V1_1, "x", []) == []
        links = await client.get_by_ids(
            "/People/ParentStudent",
            ParentStudentVM_V1_1,
            "studentID",
            [link["studentID"]],
            extra_filters=sieve.eq("parentID", link["parentID"]),
        )
    assert sb.count() == 1
    assert sb.requests[0].query["Filters"] == (
        f"studentID=={link['studentID']},parentID=={link['parentID']}"
    )
    assert {(lk.parentID, lk.studentID) for lk in links} == {(link["parentID"], link["studentID"])}


async def test_bypass_cache_header_only_when_asked() -> None:
    sb = make_sandbox()
    async with make_client(sb) as client:
        await client.get_page("/People", page_size=1)
        await client.get_page("/People", page_size=1, bypass_cache=True)
        await client.list_service_hours("parents", [1, 2])
    assert "x-bypass-cache" not in sb.requests[0].headers
    assert sb.requests[1].headers["x-bypass-cache"].isdigit()
    assert sb.requests[2].headers["x-bypass-cache"].isdigit()
    assert sb.requests[2].path == "/Parents/ServiceHours"
    assert sb.requests[2].query["Filters"] == "personId==1|2"
