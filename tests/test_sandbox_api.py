"""Sandbox FACTS SIS over the in-process transport: auth, scopes, routes, paging, includes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from core.facts.models import GatewayError, PagedResult, ProblemDetails, StudentModelV1_3
from core.facts.plans import SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY
from core.facts.sandbox import Sandbox, SandboxConfig, School, generate_school

BASE = "https://api.factsmgt.com"
HEADERS = {"Ocp-Apim-Subscription-Key": SANDBOX_SUBSCRIPTION_KEY, "Facts-Api-Key": SANDBOX_API_KEY}
READ_KEY, NONE_KEY, ACAD_ONLY = "read-key", "none-key", "academics-only"


@pytest.fixture(scope="module")
def school() -> School:
    return generate_school(families=60, seed=3)


@pytest.fixture
def sb(school: School) -> Sandbox:
    cfg = SandboxConfig(
        rate_limits=False,
        api_keys={
            SANDBOX_API_KEY: {"People": "Write", "Academics": "Read"},
            READ_KEY: {"People": "Read", "Academics": "Read"},
            NONE_KEY: {"People": "None", "Academics": "Read"},
            ACAD_ONLY: {"Academics": "Read"},
        },
    )
    return Sandbox(school, cfg)


@pytest.fixture
async def client(sb: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=sb.transport(), base_url=BASE, headers=HEADERS) as c:
        yield c


# --- auth -----------------------------------------------------------------------------------------


async def test_missing_subscription_key(sb: Sandbox) -> None:
    async with httpx.AsyncClient(transport=sb.transport(), base_url=BASE) as c:
        r = await c.get("/People", headers={"Facts-Api-Key": SANDBOX_API_KEY})
    assert r.status_code == 401
    body = GatewayError.model_validate(r.json())
    assert body.statusCode == 401
    assert body.message.startswith("Access denied due to missing subscription key.")


async def test_invalid_subscription_key(client: httpx.AsyncClient) -> None:
    r = await client.get("/People", headers={"Ocp-Apim-Subscription-Key": "nope"})
    assert r.status_code == 401
    assert r.json()["message"].startswith("Access denied due to invalid subscription key.")


async def test_subscription_key_as_query_parameter(sb: Sandbox) -> None:
    async with httpx.AsyncClient(transport=sb.transport(), base_url=BASE) as c:
        r = await c.get(
            "/People",
            params={"subscription-key": SANDBOX_SUBSCRIPTION_KEY, "PageSize": 1},
            headers={"Facts-Api-Key": SANDBOX_API_KEY},
        )
    assert r.status_code == 200
    assert "subscription-key" not in r.json()["nextPage"]


@pytest.mark.parametrize("api_key", [None, "unknown"])
async def test_bad_facts_api_key(client: httpx.AsyncClient, api_key: str | None) -> None:
    headers = {"Facts-Api-Key": api_key} if api_key else {}
    if api_key is None:
        client.headers.pop("Facts-Api-Key")
    r = await client.get("/People", headers=headers)
    assert r.status_code == 401
    assert r.json() == {"statusCode": 401, "message": "Invalid Facts-Api-Key"}


# --- scopes ---------------------------------------------------------------------------------------


async def test_scope_none_is_403_problem_details(client: httpx.AsyncClient) -> None:
    r = await client.get("/People", headers={"Facts-Api-Key": NONE_KEY})
    assert r.status_code == 403
    problem = ProblemDetails.model_validate(r.json())
    assert problem.status == 403 and problem.title == "Forbidden" and problem.detail
    # A domain missing from the key's scopes is None too; Academics still reads.
    assert (await client.get("/Students", headers={"Facts-Api-Key": ACAD_ONLY})).status_code == 403
    assert (
        await client.get("/SchoolYears", headers={"Facts-Api-Key": ACAD_ONLY})
    ).status_code == 200


async def test_people_domain_covers_students_families_parent_hours(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/Students", "/Families", "/Parents/ServiceHours", "/People/PersonFamily"):
        r = await client.get(path, headers={"Facts-Api-Key": NONE_KEY})
        assert r.status_code == 403, path


async def test_read_scope_refuses_writes(client: httpx.AsyncClient, school: School) -> None:
    person_id = school.people[0]["personId"]
    r = await client.patch(f"/People/{person_id}", json=[], headers={"Facts-Api-Key": READ_KEY})
    assert r.status_code == 403
    assert ProblemDetails.model_validate(r.json()).detail
    r = await client.post(
        "/Students/ServiceHours",
        json={"personId": person_id, "hours": 1},
        headers={"Facts-Api-Key": READ_KEY},
    )
    assert r.status_code == 403
    assert (await client.get("/People", headers={"Facts-Api-Key": READ_KEY})).status_code == 200


async def test_patch_probe_of_missing_person(client: httpx.AsyncClient, sb: Sandbox) -> None:
    """The write probe: 403 without People Write, 404 ErrorResponse with it, nothing changes."""
    before = [dict(p) for p in sb.school.people]
    patch = [{"op": "replace", "path": "/email", "value": "probe@example.com"}]
    r = await client.patch("/People/0", json=patch, headers={"Facts-Api-Key": READ_KEY})
    assert r.status_code == 403
    r = await client.patch("/People/0", json=patch)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "NotFound"
    assert sb.school.people == before


async def test_patch_person(client: httpx.AsyncClient, school: School) -> None:
    person_id = school.people[1]["personId"]
    patch = [{"op": "replace", "path": "/email", "value": "new@example.org"}]
    r = await client.patch(f"/People/{person_id}", json=patch)
    assert r.status_code == 200
    assert r.json()["email"] == "new@example.org"
    got = (await client.get(f"/people/{person_id}")).json()
    assert got["email"] == "new@example.org"
    bad = await client.patch(f"/People/{person_id}", json=[{"op": "jump", "path": "/email"}])
    assert bad.status_code == 400 and "error" in bad.json()
    moved = [{"op": "replace", "path": "/personId", "value": 1}]
    assert (await client.patch(f"/People/{person_id}", json=moved)).status_code == 422


# --- routes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/People",
        "/people/parentstudent",
        "/PEOPLE/PersonFamily",
        "/students",
        "/Families",
        "/schoolyears",
        "/SchoolConfigurations",
        "/Students/ServiceHours",
        "/parents/servicehours",
    ],
)
async def test_every_list_endpoint_case_insensitive(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path, params={"api-version": "1", "pagesize": "3"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"results", "currentPage", "pageCount", "pageSize", "rowCount", "nextPage"}
    assert body["pageSize"] == 3


async def test_api_version_optional_and_any(client: httpx.AsyncClient) -> None:
    assert (await client.get("/People")).status_code == 200
    assert (await client.get("/People", params={"api-version": "banana"})).status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/Nope"),
        ("GET", "/People/abc"),
        ("DELETE", "/People/1"),
        ("POST", "/People/ParentStudent"),
    ],
)
async def test_unknown_route_is_gateway_404(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    r = await client.request(method, path)
    assert r.status_code == 404
    assert r.json() == {"statusCode": 404, "message": "Resource not found"}


async def test_by_id_404_is_error_response(client: httpx.AsyncClient) -> None:
    r = await client.get("/People/1")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "NotFound"


async def test_get_person_by_id(client: httpx.AsyncClient, school: School) -> None:
    person = school.people[5]
    r = await client.get(f"/People/{person['personId']}")
    assert r.status_code == 200 and r.json()["personId"] == person["personId"]


# --- paging ---------------------------------------------------------------------------------------


async def test_default_page_size_100_and_next_page_chain(
    client: httpx.AsyncClient, school: School
) -> None:
    r = (await client.get("/People")).json()
    assert r["pageSize"] == 100 and r["currentPage"] == 1
    assert r["rowCount"] == len(school.people)
    assert r["pageCount"] == -(-len(school.people) // 100)
    seen: list[int] = []
    url: str = "/People?PageSize=40&Filters=personId>0"
    pages = 0
    while url:
        body = (await client.get(url)).json()
        seen += [p["personId"] for p in body["results"]]
        url = body["nextPage"]
        pages += 1
        if url:
            assert url.startswith(BASE + "/People?")
            assert "Filters=personId" in url
    assert pages == -(-len(school.people) // 40)
    assert seen == [p["personId"] for p in school.people]


async def test_single_page_and_empty_result(client: httpx.AsyncClient) -> None:
    one = (await client.get("/SchoolConfigurations", params={"PageSize": 50})).json()
    assert one["pageCount"] == 1 and one["nextPage"] == "" and len(one["results"]) == 2
    none = (await client.get("/People", params={"Filters": "personId==1"})).json()
    assert none == {
        "results": [],
        "currentPage": 1,
        "pageCount": 0,
        "pageSize": 100,
        "rowCount": 0,
        "nextPage": "",
    }


async def test_page_past_the_end_is_empty(client: httpx.AsyncClient, school: School) -> None:
    body = (await client.get("/People", params={"Page": 99, "PageSize": 100})).json()
    assert body["results"] == [] and body["currentPage"] == 99 and body["nextPage"] == ""
    assert body["rowCount"] == len(school.people)


async def test_huge_page_size_has_no_cap(client: httpx.AsyncClient, school: School) -> None:
    body = (await client.get("/People", params={"PageSize": 6000})).json()
    assert len(body["results"]) == len(school.people) and body["pageCount"] == 1


async def test_bad_page_value_is_400(client: httpx.AsyncClient) -> None:
    r = await client.get("/People", params={"Page": "two"})
    assert r.status_code == 400


async def test_paged_envelope_validates(client: httpx.AsyncClient) -> None:
    body = (await client.get("/Students", params={"PageSize": 5})).json()
    page = PagedResult[StudentModelV1_3].model_validate(body)
    assert len(page.results) == 5


# --- includes -------------------------------------------------------------------------------------


async def test_students_demographics_only_with_includes(
    client: httpx.AsyncClient, school: School
) -> None:
    people = {p["personId"]: p for p in school.people}
    plain = (await client.get("/Students", params={"PageSize": 10})).json()["results"]
    assert all(s["demographics"] is None for s in plain)
    full = (
        await client.get("/Students", params={"PageSize": 10, "includes": "demographics"})
    ).json()
    for student in full["results"]:
        demo = student["demographics"]
        assert demo["person"] == people[student["studentId"]]
        address_id = people[student["studentId"]]["addressID"]
        if address_id:
            assert demo["address"]["addressID"] == address_id
        else:
            assert demo["address"] is None
    other = (await client.get("/Students", params={"PageSize": 3, "Includes": "lockers"})).json()
    assert all(s["demographics"] is None for s in other["results"])


async def test_recorded_requests_and_count(client: httpx.AsyncClient, sb: Sandbox) -> None:
    await client.get("/people", params={"PageSize": 1})
    await client.get("/Nope")
    assert sb.count() == 2
    assert sb.count(method="GET", path_prefix="/People", status=200) == 1
    assert sb.count(status=404) == 1
    rec = sb.requests[0]
    assert rec.path == "/People" and rec.query == {"PageSize": "1"} and rec.status == 200
    assert rec.duration_s >= 0 and rec.headers["facts-api-key"] == SANDBOX_API_KEY


def test_sync_transport(sb: Sandbox) -> None:
    with httpx.Client(transport=sb.sync_transport(), base_url=BASE, headers=HEADERS) as c:
        r = c.get("/Families", params={"PageSize": 2})
    body: dict[str, Any] = r.json()
    assert r.status_code == 200 and len(body["results"]) == 2
