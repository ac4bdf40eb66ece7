"""Injected faults: reads survive 500s, 429s and dropped connections; a POST is never sent twice."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.facts.client import ClientEvent, Retry
from core.facts.errors import OutcomeUnknown
from core.facts.models import PersonVM, StudentServiceHoursModel
from core.facts.sandbox import Faults
from tests.test_client_support import FakeClock, assert_no_keys, make_client, make_sandbox


def hours_row(person_id: int, note: str) -> StudentServiceHoursModel:
    return StudentServiceHoursModel(
        personId=person_id,
        hours=2.0,
        description="Library shelving",
        date=datetime(2024, 3, 5, tzinfo=UTC),
        note=note,
        verifiedBy="Volunteer coordinator",
    )


async def test_reads_survive_20_percent_500s() -> None:
    clock = FakeClock()
    sb = make_sandbox(families=80, faults=Faults(p500=0.2, seed=1), clock=clock)
    events: list[ClientEvent] = []
    ids = [int(p["personId"]) for p in sb.school.people]
    async with make_client(sb, clock=clock, events=events) as client:
        paged = await client.get_all("/People", PersonVM, page_size=10)
        batched = await client.get_by_ids("/People", PersonVM, "personId", ids)
    assert sorted(p.personId for p in paged.items) == sorted(ids)
    assert sorted(p.personId for p in batched) == sorted(ids)
    failed = sb.count(status=500)
    assert failed >= 4
    assert client.stats.retries == failed == sum(isinstance(e, Retry) for e in events)
    assert sb.count() == sb.count(status=200) + failed


async def test_reads_survive_injected_429s_and_dropped_connections() -> None:
    clock = FakeClock()
    faults = Faults(p429=0.15, drop_before=0.1, drop_after_commit=0.1, seed=3)
    sb = make_sandbox(families=60, faults=faults, clock=clock)
    async with make_client(sb, clock=clock) as client:
        result = await client.get_all("/People", PersonVM, page_size=20)
    assert len(result.items) == len(sb.school.people)
    assert sb.count(status=429) > 0
    assert client.stats.rate_limit_waits >= sb.count(status=429)
    assert client.stats.retries == sb.count() - result.pages


async def test_post_dropped_after_commit_raises_outcome_unknown_and_is_not_resent() -> None:
    sb = make_sandbox(faults=Faults(drop_after_commit=1.0))
    person = int(sb.school.people[0]["personId"])
    async with make_client(sb) as client:
        with pytest.raises(OutcomeUnknown) as info:
            await client.post_service_hours("parents", hours_row(person, "factsync:entry-17"))
        assert sb.count(method="POST") == 1
        assert len(sb.service_hours("parents")) == 1  # it did commit
        # The write-back worker looks the row up before deciding to send again.
        sb.config.faults = Faults()
        found = await client.list_service_hours("parents", [person])
    assert [row.note for row in found] == ["factsync:entry-17"]
    assert "may or may not" in str(info.value)
    assert_no_keys(info.value)


async def test_post_dropped_before_the_handler_is_also_unknown_to_the_client() -> None:
    # The client cannot tell a drop before the backend from one after it: it must not guess.
    sb = make_sandbox(faults=Faults(drop_before=1.0))
    person = int(sb.school.people[0]["personId"])
    async with make_client(sb) as client:
        with pytest.raises(OutcomeUnknown):
            await client.post_service_hours("students", hours_row(person, "factsync:entry-18"))
    assert sb.count(method="POST") == 1
    assert sb.service_hours("students") == []


async def test_post_500_is_not_retried() -> None:
    sb = make_sandbox(faults=Faults(p500=1.0))
    person = int(sb.school.people[0]["personId"])
    async with make_client(sb) as client:
        with pytest.raises(OutcomeUnknown) as info:
            await client.post_service_hours("parents", hours_row(person, "factsync:entry-19"))
    assert info.value.status == 500
    assert sb.count() == 1


async def test_post_retries_an_injected_429() -> None:
    sb = make_sandbox(faults=Faults(p429=0.5, seed=2))
    person = int(sb.school.people[0]["personId"])
    clock = FakeClock()
    async with make_client(sb, clock=clock) as client:
        for n in range(6):
            await client.post_service_hours("parents", hours_row(person, f"factsync:{n}"))
    assert sb.count(status=429) > 0
    assert sb.count(status=201) == 6
    assert sorted(r["note"] for r in sb.service_hours("parents")) == [
        f"factsync:{n}" for n in range(6)
    ]


async def test_write_read_back_and_patch_service_hours() -> None:
    sb = make_sandbox()
    person = int(sb.school.people[1]["personId"])
    async with make_client(sb) as client:
        await client.post_service_hours("students", hours_row(person, "factsync:entry-20"))
        rows = await client.list_service_hours("students", [person])
        assert len(rows) == 1 and rows[0].serviceHoursId > 0
        assert rows[0].hours == 2.0 and rows[0].date == datetime(2024, 3, 5, tzinfo=UTC)
        updated = await client.patch_service_hours(
            "students", rows[0].serviceHoursId, [{"op": "replace", "path": "/hours", "value": 3.5}]
        )
    assert updated.hours == 3.5 and updated.serviceHoursId == rows[0].serviceHoursId
    assert sb.service_hours("students")[0]["hours"] == 3.5
    posted = next(r for r in sb.requests if r.method == "POST")
    assert b'"serviceHoursId": 0' in posted.body
