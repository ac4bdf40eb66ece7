"""The sandbox is as hard as FACTS: sliding rate windows, raw school files, bad records on demand,
the full SchoolConfigVmOut, yearId in hours answers; and a sync that meets bad records goes on."""

from __future__ import annotations

import copy
from pathlib import Path

import httpx
import pytest

from core.connection import save_connection
from core.facts.fetch import roster_from_tables
from core.facts.plans import SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY
from core.facts.records import SCHOOL_YEARS, read_rows
from core.facts.sandbox import (
    Faults,
    Sandbox,
    SandboxConfig,
    School,
    badrecords,
    generate_school,
    serve_in_thread,
)
from core.sites import add_site
from core.sync import service
from store import open_store
from store.models import Account
from tests.test_sandbox_limits import Clock

BASE = "https://api.factsmgt.com"
HEADERS = {"Ocp-Apim-Subscription-Key": SANDBOX_SUBSCRIPTION_KEY, "Facts-Api-Key": SANDBOX_API_KEY}


@pytest.fixture(scope="module")
def school() -> School:
    return generate_school(families=40, seed=5, history="light")


def client_for(sb: Sandbox) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=sb.transport(), base_url=BASE, headers=HEADERS)


async def test_rate_limits_slide_as_the_gateway_counts(school: School) -> None:
    """A fixed window opened at the first call would renew at t+1 s and let a second burst of
    ten through; the gateway counts the calls of the last second, whenever they came."""
    clock = Clock(1_000_000.0)
    sb = Sandbox(school, SandboxConfig(plan="pro"), clock=clock)
    async with client_for(sb) as c:
        assert (await c.get("/SchoolYears")).status_code == 200
        clock.now += 0.95
        assert [(await c.get("/SchoolYears")).status_code for _ in range(9)] == [200] * 9
        clock.now += 0.06  # the first call left the window, the nine did not
        assert (await c.get("/SchoolYears")).status_code == 200
        refused = await c.get("/SchoolYears")
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
        clock.now += 0.95
        assert (await c.get("/SchoolYears")).status_code == 200


async def test_a_school_file_is_served_exactly_as_it_is(tmp_path: Path, school: School) -> None:
    tables = copy.deepcopy(school.to_json())
    tables["people"][3]["personId"] = "X2007"
    tables["parentStudent"][0]["parentID"] = "abc"
    tables["families"][1]["familyID"] = None
    tables["students"][2]["studentId"] = "S-1"
    tables["personFamily"].append("not a record")
    path = tmp_path / "school.json"
    School.from_json(tables).save(path)
    sb = Sandbox(School.load(path), SandboxConfig(rate_limits=False))
    with serve_in_thread(sb) as server, httpx.Client(base_url=server.base_url, headers=HEADERS) as c:
        people = c.get("/People", params={"PageSize": 6000, "Sorts": "personId"}).json()
        assert "X2007" in {p["personId"] for p in people["results"]}
        assert c.get("/People/ParentStudent", params={"PageSize": 6000}).json()["results"][0][
            "parentID"
        ] == "abc"
        students = c.get("/Students", params={"includes": "demographics", "PageSize": 6000})
        assert students.status_code == 200 and students.json()["rowCount"] == len(school.students)
        by_id = c.get("/People", params={"Filters": "personId==X2007"})
        assert by_id.status_code == 500  # FACTS's answer to a filter value that is not a number
        assert c.get("/Families", params={"Sorts": "-familyID"}).status_code == 200
        members = c.get("/People/PersonFamily", params={"PageSize": 6000}).json()["results"]
        assert members[-1] == "not a record"
    roster = roster_from_tables(School.load(path).to_json())
    assert {str(u) for u in roster.unreadable} >= {
        f"PersonFamily not a record (page 1, row {len(members)}): record is not an object",
        "Student S-1 (page 1, row 3): studentId 'S-1' is not a number",
    }


def test_bad_records_on_demand(school: School) -> None:
    sb = Sandbox(school, SandboxConfig(faults=Faults(bad_records=0.1, seed=2)))
    ways = {(table, way) for table, _, way in sb.spoiled}
    assert ways == {(t, name) for t, options in badrecords.WAYS.items() for name, _ in options
                    if round(0.1 * len(getattr(school, t))) > [n for n, _ in options].index(name)}
    for table in ("people", "parentStudent", "personFamily", "families"):
        spoiled = sum(1 for t, _, _ in sb.spoiled if t == table)
        assert spoiled == round(0.1 * len(getattr(school, table)))
    assert sb.school.to_json() != school.to_json()
    assert school.to_json() == generate_school(families=40, seed=5, history="light").to_json()
    years, bad = read_rows(SCHOOL_YEARS, sb.school.schoolYears)
    assert len(bad) == round(0.1 * len(school.schoolYears)) and len(years) + len(bad) == 22
    assert any(u.problem == "'2025-02-30' is not a date" for u in bad)


async def test_school_configurations_and_hours_answers_have_facts_fields(school: School) -> None:
    sb = Sandbox(school, SandboxConfig(rate_limits=False))
    person = school.people[0]["personId"]
    async with client_for(sb) as c:
        config = (await c.get("/SchoolConfigurations")).json()["results"][0]
        assert {"defaultTermId", "parentAlert", "pwTermID", "pwTermID2", "pwYearID",
                "modifiedBy", "modifiedDate"} <= set(config)
        await c.post("/Parents/ServiceHours",
                     json={"personId": person, "hours": 2, "date": "2026-10-05"})
        row = sb.service_hours("parents")[0]
        put = await c.put(f"/Parents/ServiceHours/{row['serviceHoursId']}",
                          json={**row, "hours": 3})
        patch = await c.patch(
            f"/Parents/ServiceHours/{row['serviceHoursId']}",
            json=[{"op": "replace", "path": "/hours", "value": 4}],
            headers={"Content-Type": "application/json-patch+json"},
        )
    year = next(
        y for y in school.schoolYears
        if y["firstDay"] <= "2026-10-05T00:00:00Z" <= y["lastDay"]
        and y["schoolCode"] == school.schoolYears[0]["schoolCode"]
    )
    assert put.status_code == patch.status_code == 200
    assert isinstance(put.json()["yearId"], int) and patch.json()["hours"] == 4
    assert put.json()["yearId"] in {y["yearId"] for y in school.schoolYears
                                    if y["firstDay"][:4] == year["firstDay"][:4]}
    assert "yearId" not in sb.service_hours("parents")[0]  # the answer's, not a stored field


async def test_a_sync_against_bad_records_goes_on(tmp_path: Path) -> None:
    """--fault-bad-records: every table has unreadable rows; the sync names them and goes on."""
    school = generate_school(families=120, seed=4)
    sb = Sandbox(school, SandboxConfig(plan="enterprise", rate_limits=False,
                                       faults=Faults(bad_records=0.01, seed=3)))
    store = open_store(tmp_path / "s.db")
    try:
        site = add_site(store, "pta")
        save_connection(store, site, base_url=BASE, api_key=SANDBOX_API_KEY,
                        subscription_key=SANDBOX_SUBSCRIPTION_KEY, plan="enterprise")
        service.save_setup(store, site, kind="parents")
        result = await service.sync(store, "pta", transport=sb.transport())
        resources = {u.resource for u in result.plan.unreadable}
        assert {"Person", "ParentStudent", "PersonFamily", "Family"} <= resources
        assert result.plan.stop is None and result.run is not None
        assert Account.select().where(Account.site == site).count() > 100
        body = result.to_json()
        assert body["counts"]["unreadable"] == len(body["unreadable"]) > 0
    finally:
        store.close()
