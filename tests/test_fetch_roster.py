"""fetch_roster: complete and correct against the generated school, in the fewest requests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from core.facts import fetch
from core.facts.client import FactsClient
from core.facts.errors import IncompleteData, PermissionMissing
from core.facts.fetch import FetchProgress, fetch_roster
from core.facts.sandbox import Faults, Sandbox, serve_in_thread
from core.facts.sandbox.school import School
from core.roster import Roster
from tests.test_client_support import (
    API_KEY,
    NONE_KEY,
    SUB_KEY,
    FakeClock,
    make_client,
    make_sandbox,
)


def expected(school: School, kind: str) -> dict[str, set[Any]]:
    students = {int(s["studentId"]) for s in school.students}
    links = [r for r in school.parentStudent if int(r["studentID"]) in students]
    parents = {int(r["parentID"]) for r in links} if kind == "parents" else set()
    members = [r for r in school.personFamily if int(r["personId"]) in students | parents]
    return {
        "students": students,
        "parents": parents,
        "people": students | parents,
        "links": {(int(r["parentID"]), int(r["studentID"])) for r in links}
        if kind == "parents"
        else set(),
        "members": {(int(r["personId"]), int(r["familyId"])) for r in members},
        "families": {int(r["familyId"]) for r in members},
    }


def assert_matches(roster: Roster, school: School, kind: str) -> None:
    want = expected(school, kind)
    assert len(roster.students) == len(school.students) == roster.announced_students
    assert {s.studentId for s in roster.students} == want["students"]
    assert set(roster.people) == want["people"]
    assert {(lk.parentID, lk.studentID) for lk in roster.parent_links} == want["links"]
    assert len(roster.parent_links) == len(want["links"])
    assert roster.unreadable == []
    assert {(m.personId, m.familyId) for m in roster.person_families} == want["members"]
    assert set(roster.families) == want["families"]
    assert len(roster.school_years) == len(school.schoolYears)
    assert len(roster.schools) == len(school.schoolConfigurations)
    assert roster.kind == kind and roster.fetched_at is not None
    # Historical students are there too: the planner explains archives with their status.
    assert {s.school.status for s in roster.students if s.school} >= {"Enrolled", "Graduate"}


async def test_parents_roster_is_complete_in_one_request_per_table() -> None:
    sb = make_sandbox(families=300)
    progress: list[FetchProgress] = []
    async with make_client(sb) as client:
        roster = await fetch_roster(client, "parents", on_progress=progress.append)
    assert_matches(roster, sb.school, "parents")
    # SchoolConfigurations, SchoolYears, Students, ParentStudent, PersonFamily, Families, People.
    assert roster.requests == sb.count() == 7
    assert all(r.query["PageSize"] == "6000" for r in sb.requests)
    assert all(r.query["PageSize"] == "6000" for r in sb.requests)
    students = next(r for r in sb.requests if r.path == "/Students")
    assert students.query["includes"] == "demographics"
    assert "Filters" not in students.query  # every status, not only Enrolled
    assert progress[-1].step == "done" and progress[-1].requests == 7
    assert progress[-1].records == sum(
        len(getattr(sb.school, t))
        for t in ("students", "parentStudent", "personFamily", "families", "people")
    ) + len(sb.school.schoolYears) + len(sb.school.schoolConfigurations)
    assert [p.requests for p in progress] == sorted(p.requests for p in progress)
    assert {"students", "parent links", "family memberships", "families"} <= {
        p.step for p in progress
    }


async def test_students_roster_skips_parents() -> None:
    sb = make_sandbox(families=300)
    async with make_client(sb) as client:
        roster = await fetch_roster(client, "students")
    assert_matches(roster, sb.school, "students")
    assert roster.parent_links == []
    assert roster.requests == sb.count() == 5
    assert sb.count(path_prefix="/People/ParentStudent") == 0
    assert sb.count(path_prefix="/People/PersonFamily") == 1


async def test_large_tables_take_more_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetch, "MAX_PAGE_SIZE", 400)
    clock = FakeClock()
    sb = make_sandbox(families=300, clock=clock)
    async with make_client(sb, clock=clock) as client:
        roster = await fetch_roster(client, "parents")
    assert_matches(roster, sb.school, "parents")
    assert sb.count(status=429) == 0
    # Whole tables won: no id filters anywhere.
    assert all("Filters" not in r.query for r in sb.requests)
    pages = {t: -(-len(getattr(sb.school, t)) // 400) for t in ("parentStudent", "personFamily")}
    assert sb.count(path_prefix="/People/ParentStudent") == pages["parentStudent"]
    assert sb.count(path_prefix="/People/PersonFamily") == pages["personFamily"]


async def test_id_batches_win_when_the_table_is_much_larger(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # With tiny pages, People as a whole table costs more requests than the parents' id batches.
    monkeypatch.setattr(fetch, "MAX_PAGE_SIZE", 40)
    clock = FakeClock()
    sb = make_sandbox(families=100, clock=clock)
    async with make_client(sb, clock=clock) as client:
        roster = await fetch_roster(client, "parents")
    assert_matches(roster, sb.school, "parents")
    people = [r for r in sb.requests if r.path == "/People"]
    probe, batches = people[0], people[1:]
    assert "Filters" not in probe.query and probe.query["Page"] == "1"
    parents = expected(sb.school, "parents")["parents"]
    assert len(batches) >= -(-len(parents) // 150)
    assert all(r.query["Filters"].startswith("personId==") for r in batches)
    sent = {int(i) for r in batches for i in r.query["Filters"][10:].split("|")}
    assert sent == parents
    whole_table_pages = -(-len(sb.school.people) // 40)
    assert len(people) < whole_table_pages


async def test_fetch_survives_injected_500s_and_429s() -> None:
    clock = FakeClock()
    sb = make_sandbox(families=200, faults=Faults(p500=0.2, p429=0.1, seed=5), clock=clock)
    async with make_client(sb, clock=clock) as client:
        roster = await fetch_roster(client, "parents")
    assert_matches(roster, sb.school, "parents")
    assert sb.count(status=500) + sb.count(status=429) > 0
    assert roster.requests == sb.count()


class Tamper(httpx.AsyncBaseTransport):
    """Wraps the sandbox transport and edits /Students pages on their way back."""

    def __init__(self, sandbox: Sandbox, edit: Callable[[dict[str, Any]], None]) -> None:
        self.inner = sandbox.transport()
        self.edit = edit

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path != "/Students" or response.status_code != 200:
            return response
        body = json.loads(await response.aread())
        self.edit(body)
        return httpx.Response(200, json=body)


def client_over(sb: Sandbox, transport: httpx.AsyncBaseTransport) -> FactsClient:
    return FactsClient(sb.config.base_url, SUB_KEY, API_KEY, plan="enterprise", transport=transport)


async def test_fewer_students_than_announced_is_refused() -> None:
    sb = make_sandbox(families=50)

    def drop_one(body: dict[str, Any]) -> None:
        body["results"].pop()

    async with client_over(sb, Tamper(sb, drop_one)) as client:
        with pytest.raises(IncompleteData) as info:
            await fetch_roster(client, "parents")
    assert f"announced {len(sb.school.students)} students" in str(info.value)


async def test_students_without_demographics_are_looked_up() -> None:
    sb = make_sandbox(families=50)
    stripped: list[int] = []

    def strip(body: dict[str, Any]) -> None:
        for row in body["results"][:5]:
            row["demographics"] = None
            stripped.append(row["studentId"])

    async with client_over(sb, Tamper(sb, strip)) as client:
        roster = await fetch_roster(client, "students")
    assert set(stripped) <= set(roster.people)
    lookups = [r for r in sb.requests if r.path == "/People"]
    assert len(lookups) == 1
    assert sorted(int(i) for i in lookups[0].query["Filters"][10:].split("|")) == sorted(stripped)


async def test_fetch_over_loopback_http() -> None:
    sb = make_sandbox(families=120)
    with serve_in_thread(sb, port=0) as server:
        async with FactsClient(server.base_url, SUB_KEY, API_KEY, plan="enterprise") as client:
            roster = await fetch_roster(client, "parents")
    assert_matches(roster, sb.school, "parents")
    assert roster.requests == sb.count() == 7


async def test_unknown_kind_is_refused() -> None:
    sb = make_sandbox()
    async with make_client(sb) as client:
        with pytest.raises(ValueError):
            await fetch_roster(client, "staff")  # type: ignore[arg-type]
    assert sb.count() == 0


async def test_a_failed_fetch_stops_sending() -> None:
    sb = make_sandbox(families=50)
    async with make_client(sb, api_key=NONE_KEY) as client:
        with pytest.raises(PermissionMissing):
            await fetch_roster(client, "parents")
        sent = sb.count()
        await asyncio.sleep(0.3)
        assert sb.count() == sent <= 7


async def test_live_history_is_read_past_and_left_out() -> None:
    """A live tenant's volume (~17 people, ~19 links per enrolled student): whole tables in a
    few pages, and only the rows the roster needs are kept."""
    sb = make_sandbox(families=300, history="live")
    async with make_client(sb) as client:
        roster = await fetch_roster(client, "parents")
    assert_matches(roster, sb.school, "parents")
    assert len(sb.school.people) > 5 * len(roster.people)
    # Students, years, configs: 1 page each; people and links: 2 pages; memberships, families: 1.
    assert roster.requests == sb.count() == 9
    assert all("Filters" not in r.query for r in sb.requests)


def test_page_size_grows_with_the_table_within_the_minute_budget() -> None:
    assert fetch.page_size_for(20_000, 100) == 6000
    assert fetch.page_size_for(51_000, 100) == 12_750  # 4 pages instead of 9
    assert fetch.page_size_for(510_000, 100) == 50_000  # capped: 11 pages, Pro allows them
    assert fetch.page_size_for(510_000, 10) == 510_000  # Basic: one page rather than a wait


async def test_an_envelope_with_a_count_that_is_not_a_number_is_a_clear_error() -> None:
    from core.facts.errors import ServerError

    sb = make_sandbox(families=20)

    def spoil(body: dict[str, Any]) -> None:
        body["rowCount"] = "many"

    async with client_over(sb, Tamper(sb, spoil)) as client:
        with pytest.raises(ServerError) as info:
            await fetch_roster(client, "students")
    assert "GET /Students with a rowCount that is not a number ('many')" in str(info.value)


def test_a_page_drops_the_rows_not_needed_as_it_is_parsed_and_keeps_the_others_in_place() -> None:
    """A live tenant's 50,000-row page of /People holds ~7,000 people the roster needs: the
    others never become Python objects, and what may need reporting keeps its row number."""
    from core.facts import records as rec

    rows: list[Any] = [{"personId": 1, "firstName": "Ann", "nickName": "x"}, {"personId": 2},
                       {"personId": "a lot"}, None, "text", {"personId": 3, "email": {}}]
    body = json.dumps({"results": rows, "rowCount": 6, "pageCount": 1}).encode()
    page = rec.PEOPLE.page.validate_json(body, context=rec.Wanted("personId", {1, 3}))
    assert page["results"] == [{"personId": 1, "firstName": "Ann"}, rec.DROPPED,
                               {"personId": "a lot"}, None, "text", {"personId": 3, "email": {}}]
    reader = fetch._Reader()
    people = reader.take(fetch.PEOPLE, page["results"], 2, {1, 3})
    assert [p.personId for p in people] == [1]
    assert [str(u) for u in reader.unreadable] == [
        "Person a lot (page 2, row 3): personId 'a lot' is not a number",
        "Person null (page 2, row 4): record is not an object",
        "Person text (page 2, row 5): record is not an object",
        "Person 3: email {} is not text",
    ]
    assert reader.rows_received["Person"] == 6 and reader.rows_read["Person"] == 5
