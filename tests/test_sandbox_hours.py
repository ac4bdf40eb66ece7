"""Sandbox service hours: POST 201 with an empty body, read-back, PATCH/PUT, validation, file."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.facts.models import StudentServiceHoursModel
from core.facts.plans import SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY
from core.facts.sandbox import Sandbox, SandboxConfig, School, generate_school

BASE = "https://api.factsmgt.com"
HEADERS = {"Ocp-Apim-Subscription-Key": SANDBOX_SUBSCRIPTION_KEY, "Facts-Api-Key": SANDBOX_API_KEY}


@pytest.fixture(scope="module")
def school() -> School:
    return generate_school(families=20, seed=9)


@pytest.fixture
def sb(school: School) -> Sandbox:
    return Sandbox(school, SandboxConfig(rate_limits=False))


@pytest.fixture
async def client(sb: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=sb.transport(), base_url=BASE, headers=HEADERS) as c:
        yield c


def body(person_id: int, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "serviceHoursId": 0,
        "personId": person_id,
        "description": "Library shelving",
        "hours": 1.5,
        "date": "2026-11-02",
        "note": "factsync:entry:17",
        "verifiedBy": "Ms. Núñez",
        "createdBy": 0,
    }
    row.update(extra)
    return row


async def test_post_is_201_with_empty_body(
    client: httpx.AsyncClient, sb: Sandbox, school: School
) -> None:
    pid = school.people[0]["personId"]
    r = await client.post("/Students/ServiceHours", json=body(pid))
    assert r.status_code == 201
    assert r.content == b""
    rows = sb.service_hours("students")
    assert len(rows) == 1 and sb.service_hours("parents") == []
    row = rows[0]
    assert row["serviceHoursId"] == 1 and row["personId"] == pid and row["hours"] == 1.5
    assert row["date"] == "2026-11-02T00:00:00Z"
    StudentServiceHoursModel.model_validate(row)


async def test_read_back_by_person_and_date(client: httpx.AsyncClient, school: School) -> None:
    a, b = school.people[0]["personId"], school.people[1]["personId"]
    await client.post("/Parents/ServiceHours", json=body(a, date="2026-11-02T15:30:00Z"))
    await client.post("/Parents/ServiceHours", json=body(a, date="2026-11-03"))
    await client.post("/Parents/ServiceHours", json=body(b))
    r = await client.get(
        "/Parents/ServiceHours", params={"Filters": f"personId=={a},date==2026-11-02"}
    )
    results = r.json()["results"]
    assert [(x["personId"], x["date"]) for x in results] == [(a, "2026-11-02T00:00:00Z")]
    assert (await client.get("/Students/ServiceHours")).json()["rowCount"] == 0
    by_id = await client.get(f"/Parents/ServiceHours/{results[0]['serviceHoursId']}")
    assert by_id.json() == results[0]


async def test_ids_increase_across_both_resources(client: httpx.AsyncClient, sb: Sandbox) -> None:
    pid = sb.school.people[0]["personId"]
    await client.post("/Students/ServiceHours", json=body(pid))
    await client.post("/Parents/ServiceHours", json=body(pid))
    await client.post("/Students/ServiceHours", json=body(pid, serviceHoursId=999))
    assert [r["serviceHoursId"] for r in sb.service_hours("students")] == [1, 3]
    assert [r["serviceHoursId"] for r in sb.service_hours("parents")] == [2]
    # The same row is not reachable through the other resource.
    assert (await client.get("/Parents/ServiceHours/1")).status_code == 404


async def test_patch_and_put(client: httpx.AsyncClient, sb: Sandbox) -> None:
    pid = sb.school.people[0]["personId"]
    await client.post("/Students/ServiceHours", json=body(pid))
    patch = [{"op": "replace", "path": "/hours", "value": 3}]
    r = await client.patch("/Students/ServiceHours/1", json=patch)
    assert r.status_code == 200 and r.json()["hours"] == 3.0
    r = await client.put("/Students/ServiceHours/1", json=body(pid, hours=4.25, note="edited"))
    assert r.status_code == 200
    assert r.json()["serviceHoursId"] == 1 and r.json()["note"] == "edited"
    assert sb.service_hours("students")[0]["hours"] == 4.25
    assert (await client.patch("/Students/ServiceHours/77", json=patch)).status_code == 404
    too_long = [{"op": "replace", "path": "/note", "value": "x" * 256}]
    assert (await client.patch("/Students/ServiceHours/1", json=too_long)).status_code == 400
    assert sb.service_hours("students")[0]["note"] == "edited"


@pytest.mark.parametrize(
    ("change", "status", "target"),
    [
        ({"description": "d" * 256}, 400, "description"),
        ({"note": "n" * 256}, 400, "note"),
        ({"hours": "two"}, 400, "hours"),
        ({"hours": None}, 400, "hours"),
        ({"date": "yesterday"}, 400, "date"),
        ({"personId": "12"}, 400, "personId"),
        ({"personId": None}, 422, "personId"),
        ({"personId": 1}, 422, "personId"),
    ],
)
async def test_validation(
    client: httpx.AsyncClient,
    sb: Sandbox,
    change: dict[str, Any],
    status: int,
    target: str,
) -> None:
    pid = sb.school.people[0]["personId"]
    r = await client.post("/Students/ServiceHours", json=body(pid, **change))
    assert r.status_code == status
    assert r.json()["error"]["target"] == target
    assert sb.service_hours("students") == []


async def test_texts_of_255_are_fine(client: httpx.AsyncClient, sb: Sandbox) -> None:
    pid = sb.school.people[0]["personId"]
    r = await client.post("/Students/ServiceHours", json=body(pid, description="d" * 255))
    assert r.status_code == 201


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/Students/ServiceHours", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "BadRequest"


async def test_hours_file_survives_restart(tmp_path: Path, school: School) -> None:
    path = tmp_path / "hours.json"
    pid = school.people[0]["personId"]
    first = Sandbox(school, SandboxConfig(rate_limits=False, hours_file=str(path)))
    async with httpx.AsyncClient(transport=first.transport(), base_url=BASE, headers=HEADERS) as c:
        await c.post("/Students/ServiceHours", json=body(pid))
        await c.post("/Parents/ServiceHours", json=body(pid))
    saved = json.loads(path.read_text())
    assert len(saved["students"]) == 1 and len(saved["parents"]) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["hours.json"]  # atomic write, no leftovers

    second = Sandbox(school, SandboxConfig(rate_limits=False, hours_file=str(path)))
    assert second.service_hours("students") == first.service_hours("students")
    async with httpx.AsyncClient(transport=second.transport(), base_url=BASE, headers=HEADERS) as c:
        await c.post("/Students/ServiceHours", json=body(pid))
        r = await c.get("/Students/ServiceHours", params={"Filters": f"personId=={pid}"})
    assert [x["serviceHoursId"] for x in r.json()["results"]] == [1, 3]
