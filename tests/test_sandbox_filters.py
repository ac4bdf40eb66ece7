"""Sieve Filters and Sorts as the sandbox evaluates them, over a small hand-written school."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from core.facts.plans import SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY
from core.facts.sandbox import Sandbox, SandboxConfig, School, generate_school, sieve

BASE = "https://api.factsmgt.com"
HEADERS = {"Ocp-Apim-Subscription-Key": SANDBOX_SUBSCRIPTION_KEY, "Facts-Api-Key": SANDBOX_API_KEY}


def _person(pid: int, last: str, email: str | None, modified: str) -> dict[str, Any]:
    return {
        "personId": pid,
        "firstName": "F",
        "lastName": last,
        "email": email,
        "modifiedDate": modified,
    }


def _student(psid: int, sid: int, code: str, status: str, grade: str, cls: str) -> dict[str, Any]:
    return {
        "personStudentId": psid,
        "studentId": sid,
        "schoolCode": code,
        "classYear": cls,
        "school": {"status": status, "gradeLevel": grade},
        "demographics": None,
    }


SCHOOL = School(
    people=[
        _person(1, "Smith", "a@x.org", "2024-01-01T10:00:00Z"),
        _person(2, "smith", "B@X.org", "2024-05-01T00:00:00Z"),
        _person(3, "O'Brien", None, "2024-06-15T08:30:00Z"),
        _person(4, "Smith, Jr|x", "c@y.org", "2023-12-31T23:59:59Z"),
        _person(10, "Zed", "  ", "2025-01-01T00:00:00Z"),
    ],
    students=[
        _student(50, 1, "ES", "Enrolled", "K", "2039"),
        _student(51, 2, "HS", "Enrolled", "08", "2031"),
        _student(52, 3, "HS", "Graduate", "12", "2024"),
        _student(53, 4, "ES", "Withdrawn", "3", "2035"),
    ],
    parentStudent=[
        {"id": 1, "parentID": 10, "studentID": 1, "relationship": "Mother"},
        {"id": 2, "parentID": 10, "studentID": 2, "relationship": "Father"},
    ],
    personFamily=[{"personId": 1, "familyId": 7, "familyOrder": 1}],
    families=[{"familyID": 7, "familyName": "Smith"}],
    schoolYears=[{"yearId": 3, "schoolCode": "ES", "yearName": "2026-2027"}],
    schoolConfigurations=[{"configSchoolID": 1, "schoolCode": "ES"}],
)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    sb = Sandbox(School.from_json(SCHOOL.to_json()), SandboxConfig(rate_limits=False))
    async with httpx.AsyncClient(transport=sb.transport(), base_url=BASE, headers=HEADERS) as c:
        yield c


async def ids(
    client: httpx.AsyncClient, path: str, filters: str = "", sorts: str = ""
) -> list[int]:
    params = {"Filters": filters, "Sorts": sorts}
    r = await client.get(path, params={k: v for k, v in params.items() if v})
    assert r.status_code == 200, r.text
    key = {"/People": "personId", "/Students": "studentId"}.get(path, "id")
    return [row[key] for row in r.json()["results"]]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ("personId==3", [3]),
        ("personId!=3", [1, 2, 4, 10]),
        ("personId>2", [3, 4, 10]),
        ("personId<2", [1]),
        ("personId>=3", [3, 4, 10]),
        ("personId<=2", [1, 2]),
        ("lastName==Smith", [1]),
        ("lastName==*SMITH", [1, 2]),
        ("lastName!=Smith", [2, 3, 4, 10]),
        ("lastName!=*smith", [3, 4, 10]),
        ("lastName@=mit", [1, 2, 4]),
        ("lastName@=*MIT", [1, 2, 4]),
        ("lastName@=Bri", [3]),
        ("lastName_=Sm", [1, 4]),
        ("lastName_=*sm", [1, 2, 4]),
        ("lastName!@=mit", [3, 10]),
        ("lastName!@=*MIT", [3, 10]),
        ("lastName!_=Sm", [2, 3, 10]),
        ("lastName!_=*sm", [3, 10]),
        ("email==b@x.org", []),
        ("email==*b@x.org", [2]),
        ("email==null", [3]),
        ("email!=null", [1, 2, 4, 10]),
        ("lastName==O'Brien", [3]),
    ],
)
async def test_each_operator(client: httpx.AsyncClient, filters: str, expected: list[int]) -> None:
    assert await ids(client, "/People", filters) == expected


async def test_and_or_and_escapes(client: httpx.AsyncClient) -> None:
    assert await ids(client, "/People", "personId==1|3|10|999") == [1, 3, 10]
    assert await ids(client, "/People", "lastName==*smith,personId>1") == [2]
    assert await ids(client, "/People", "lastName@=Bri|Zed") == [3, 10]
    assert await ids(client, "/People", r"lastName==Smith\, Jr\|x") == [4]
    assert await ids(client, "/People", r"lastName_=Smith\,") == [4]
    # values are trimmed, names are case-insensitive
    assert await ids(client, "/People", " PERSONID == 3 ") == [3]


async def test_batched_ids(client: httpx.AsyncClient) -> None:
    batch = "|".join(str(i) for i in range(0, 200))
    assert await ids(client, "/People", f"personId=={batch}") == [1, 2, 3, 4, 10]


async def test_date_comparison(client: httpx.AsyncClient) -> None:
    assert await ids(client, "/People", "modifiedDate>=2024-05-01") == [2, 3, 10]
    assert await ids(client, "/People", "modifiedDate>2024-05-01") == [3, 10]
    assert await ids(client, "/People", "modifiedDate==2024-05-01T00:00:00Z") == [2]
    assert await ids(client, "/People", "modifiedDate<2024-01-01T10:00:00.000Z") == [4]


async def test_numeric_not_lexicographic(client: httpx.AsyncClient) -> None:
    assert await ids(client, "/People", "personId>9") == [10]


async def test_dotted_names_on_students(client: httpx.AsyncClient) -> None:
    assert await ids(client, "/Students", "school.status==Enrolled") == [1, 2]
    assert await ids(client, "/Students", "School.GradeLevel==08|K") == [1, 2]
    assert await ids(client, "/Students", "schoolCode==HS,school.status!=Enrolled") == [3]
    assert await ids(client, "/Students", "classYear>=2035") == [1, 4]
    assert await ids(client, "/Students", "personStudentId==51|53") == [2, 4]


async def test_parent_student_names(client: httpx.AsyncClient) -> None:
    assert await ids(client, "/People/ParentStudent", "studentID==2") == [2]
    assert await ids(client, "/People/ParentStudent", "parentid==10") == [1, 2]


@pytest.mark.parametrize(
    ("path", "filters"),
    [
        ("/People", "firstName==F"),
        ("/Students", "status==Enrolled"),
        ("/People/ParentStudent", "relationship==Mother"),
        ("/People/PersonFamily", "parent==true"),
        ("/Families", "enableWeb==true"),
        ("/Students/ServiceHours", "hours>1"),
    ],
)
async def test_unknown_filter_field_is_500(
    client: httpx.AsyncClient, path: str, filters: str
) -> None:
    r = await client.get(path, params={"Filters": filters})
    assert r.status_code == 500
    name = re.split(r"[=!<>@_]", filters)[0]
    # As live FACTS: the message, then a .NET stack trace (not a clean ProblemDetails).
    assert f"{name} not found.\r\n   at Sieve.Services.SieveProcessor" in r.text


async def test_flat_names_on_other_lists(client: httpx.AsyncClient) -> None:
    for path, filters in (
        ("/People/PersonFamily", "familyId==7"),
        ("/Families", "familyID==7"),
        ("/SchoolYears", "yearId==3"),
        ("/SchoolConfigurations", "schoolCode==ES"),
    ):
        r = await client.get(path, params={"Filters": filters})
        assert r.status_code == 200 and r.json()["rowCount"] == 1, path


async def test_bad_int_value_is_500(client: httpx.AsyncClient) -> None:
    r = await client.get("/People", params={"Filters": "personId==abc"})
    assert r.status_code == 500


async def test_sorts(client: httpx.AsyncClient) -> None:
    assert await ids(client, "/People", sorts="-personId") == [10, 4, 3, 2, 1]
    assert await ids(client, "/People", sorts="lastName,-personId") == [3, 2, 1, 4, 10]
    assert await ids(client, "/People", sorts="email") == [3, 10, 1, 2, 4]
    assert await ids(client, "/Students", sorts="-school.gradeLevel") == [1, 4, 3, 2]


async def test_sort_before_paging(client: httpx.AsyncClient) -> None:
    r = await client.get("/People", params={"Sorts": "-personId", "PageSize": 2, "Page": 2})
    assert [p["personId"] for p in r.json()["results"]] == [3, 2]


async def test_unknown_sort_field_is_500(client: httpx.AsyncClient) -> None:
    r = await client.get("/People", params={"Sorts": "-firstName"})
    assert r.status_code == 500
    assert r.text.splitlines()[0].endswith("firstName not found.")


async def test_filters_live_clients_use() -> None:
    sb = Sandbox(generate_school(30, seed=3, history="light"), SandboxConfig(rate_limits=False))
    async with httpx.AsyncClient(transport=sb.transport(), base_url=BASE, headers=HEADERS) as c:
        await _live_filters(c)


async def _live_filters(client: httpx.AsyncClient) -> None:
    r = await client.get("/People/ParentStudent", params={"Filters": "correspondence==true"})
    assert r.status_code == 200 and r.json()["rowCount"] > 0
    assert all(row["correspondence"] is True for row in r.json()["results"])
    r = await client.get("/Students", params={"Filters": "school.enrollDate>=2024-01-01"})
    assert r.status_code == 200 and r.json()["rowCount"] > 0
    assert all(row["school"]["enrollDate"] >= "2024-01-01" for row in r.json()["results"])
    r = await client.get("/People/ParentStudent", params={"Filters": "correspondence==maybe"})
    assert r.status_code == 500


def test_parse_terms() -> None:
    spec = sieve.fields(personId="int", lastName="str")
    terms = sieve.parse_filters(r"personId==1|2,lastName!@=*a\|b", spec)
    assert [(t.field.name, t.op, t.values) for t in terms] == [
        ("personId", "==", ("1", "2")),
        ("lastName", "!@=*", ("a|b",)),
    ]
    with pytest.raises(sieve.UnknownField, match="nope not found."):
        sieve.parse_filters("nope==1", spec)


async def test_text_operators_on_typed_columns(client: httpx.AsyncClient) -> None:
    assert await ids(client, "/People", "modifiedDate_=2024-0") == [1, 2, 3]
    assert await ids(client, "/People", "personId@=0") == [10]
    assert await ids(client, "/People", "lastName_-=*ITH") == [1, 2]
