"""Real FACTS data never breaks a sync: unreadable records are named, left out, and hold accounts.

Scenarios against the in-process sandbox serving hand-built FACTS records (string link ids, nulls,
wrong types, unreadable keys, links to nobody), through the same fetch and plan a sync uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.sync import service
from core.sync.plan import HELD
from store.models import Account
from tests.sync_support import (
    Env,
    Tables,
    accounts_by_email,
    build_school,
    make_env,
    parent,
    student,
)

FAMILIES = 40


def school() -> Tables:
    """40 families (mother, father, child): one bad row stays under the 5% of any table."""
    fams: dict[int, list[dict[str, Any]]] = {}
    for i in range(FAMILIES):
        base = 10_000 + i * 10
        fams[1000 + i] = [
            parent(base + 1, "Ann", f"Lee{i}", f"ann{i}@lee.org", rel="Mother"),
            parent(base + 2, "Bob", f"Lee{i}", f"bob{i}@lee.org", order=2, rel="Father"),
            student(base + 3, "Cy", f"Lee{i}", f"cy{i}@lee.org", grade="05"),
        ]
    tables = build_school(fams)
    for link in tables["parentStudent"]:
        link["id"] = f"{link['parentID']}-{link['studentID']}"  # a string, as FACTS sends it
    return tables


def row(tables: Tables, table: str, **match: Any) -> dict[str, Any]:
    return next(r for r in tables[table] if all(r.get(k) == v for k, v in match.items()))


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return make_env(tmp_path, school())


def snapshot(env: Env) -> dict[str, tuple[Any, ...]]:
    return {
        a.email: (a.status, a.first_name, a.last_name, a.person_id, a.family_key)
        for a in Account.select().where(Account.site == env.site)
    }


async def test_string_link_ids_and_null_emails_are_ordinary_records(env: Env) -> None:
    tables = env.edit()
    row(tables, "people", personId=10_002)["email"] = None
    env.serve(tables)
    result = await env.sync()
    assert result.plan.unreadable == ()
    assert result.to_json()["counts"]["unreadable"] == 0
    emails = accounts_by_email(env.site)
    assert len(emails) == FAMILIES * 2 - 1 and "ann0@lee.org" in emails
    waiting = [it for it in result.plan.items if it.person_id == 10_002]
    assert waiting and waiting[0].action in ("skip", "conflict")  # the missing-email review


async def test_a_bad_link_is_named_and_the_rest_syncs(env: Env) -> None:
    tables = env.edit()
    row(tables, "parentStudent", parentID=10_011)["parentID"] = "abc"
    env.serve(tables)
    result = await env.sync()
    assert [str(u) for u in result.plan.unreadable] == [
        "ParentStudent 10011-10013: parentID 'abc' is not a number"
    ]
    body = result.to_json()
    assert body["counts"]["unreadable"] == 1
    assert body["unreadable"][0] | {"page": None} == {
        "resource": "ParentStudent", "key": "10011-10013", "field": "parentID",
        "problem": "'abc' is not a number", "page": None, "row": None,
    }
    emails = accounts_by_email(env.site)
    assert "ann1@lee.org" not in emails and "bob1@lee.org" in emails
    assert len(emails) == FAMILIES * 2 - 1


async def test_an_account_whose_record_is_unreadable_is_neither_archived_nor_changed(
    env: Env,
) -> None:
    await env.sync()
    before = snapshot(env)
    tables = env.edit()
    ann = row(tables, "people", personId=10_021)
    ann["firstName"] = {"first": "Ann"}  # wrong type: Ann's person record cannot be read
    ann["email"] = "ann.new@lee.org"  # ...so this change must not reach her account either
    row(tables, "people", personId=10_032)["lastName"] = "Changed"  # a readable change
    row(tables, "students", studentId=10_043)["school"]["status"] = "Withdrawn"  # control
    env.serve(tables)
    result = await env.sync()
    assert [str(u) for u in result.plan.unreadable] == [
        'Person 10021: firstName {"first": "Ann"} is not text',
        "ParentStudent 10021-10023: parentID 10021 points at no person in /People",
    ]
    after = snapshot(env)
    assert after["ann2@lee.org"] == before["ann2@lee.org"]  # not archived, not changed
    held = {it.person_id: it.reason for it in result.plan.held}
    assert held == {10_021: HELD}
    assert after["bob3@lee.org"][2] == "Changed"
    assert after["ann4@lee.org"][0] == "archived" and after["bob4@lee.org"][0] == "archived"
    assert result.to_json()["counts"]["held"] == 1


async def test_an_unreadable_key_is_listed_raw_and_who_it_may_be_is_held(env: Env) -> None:
    await env.sync()
    before = snapshot(env)
    tables = env.edit()
    row(tables, "people", personId=10_052)["personId"] = "X2007"
    env.serve(tables)
    result = await env.sync()
    keyed = [u for u in result.plan.unreadable if u.resource == "Person"]
    assert len(keyed) == 1 and keyed[0].key == "X2007" and keyed[0].row is not None
    assert str(keyed[0]).startswith("Person X2007 (page 1, row ")
    assert "personId 'X2007' is not a number" in str(keyed[0])
    assert snapshot(env)["bob5@lee.org"] == before["bob5@lee.org"]
    assert 10_052 in {it.person_id for it in result.plan.held}


async def test_an_unreadable_student_or_family_holds_its_people(tmp_path: Path) -> None:
    env = make_env(tmp_path, school(), kind="students", name="kids")
    await env.sync()
    before = snapshot(env)
    tables = env.edit()
    row(tables, "students", studentId=10_063)["school"] = "Enrolled"  # not an object
    row(tables, "families", familyID=1007)["familyName"] = ["Lee7"]
    env.serve(tables)
    result = await env.sync()
    assert {str(u) for u in result.plan.unreadable} == {
        "Student 10063: school 'Enrolled' is not an object",
        'Family 1007: familyName ["Lee7"] is not text',
    }
    after = snapshot(env)
    assert after["cy6@lee.org"] == before["cy6@lee.org"]
    assert after["cy7@lee.org"] == before["cy7@lee.org"]
    assert {it.person_id for it in result.plan.held} == {10_063, 10_073}


async def test_more_than_5_percent_unreadable_stops_and_changes_nothing(env: Env) -> None:
    await env.sync()
    before = snapshot(env)
    tables = env.edit()
    for link in tables["parentStudent"][:9]:  # 9 of 80 links
        link["studentID"] = None
    row(tables, "people", personId=10_102)["lastName"] = "Changed"
    env.serve(tables)
    with pytest.raises(service.UnreadableStop) as stop:
        await env.sync()
    message = str(stop.value)
    assert "9 of 80 ParentStudent records" in message
    assert message.count("studentID is empty (null)") == 2  # two examples
    assert snapshot(env) == before
    with pytest.raises(service.UnreadableStop):
        await env.sync(dry_run=True)
    plan = await env.plan()
    with pytest.raises(service.UnreadableStop):
        service.apply_plan(env.store, env.site.name, plan)
    assert snapshot(env) == before


def test_the_5_percent_rule_weighs_unreadable_keys_against_the_whole_table() -> None:
    from core.facts.records import Unreadable
    from core.roster import Roster

    keyed = [Unreadable("Person", f"X{i}", "personId", "'X' is not a number", 1, i + 1)
             for i in range(40)]
    # 40 unreadable keys among 1,000 rows sent (history included), 100 rows needed: go on.
    roster = Roster(unreadable=keyed, rows_read={"Person": 140}, rows_received={"Person": 1000})
    assert roster.unreadable_stop() is None
    roster = Roster(unreadable=keyed, rows_read={"Person": 140}, rows_received={"Person": 700})
    assert "40 of 700 Person records from FACTS have a key that cannot be read" in str(
        roster.unreadable_stop()
    )
    fields = [Unreadable("Person", str(i), "email", "[] is not text") for i in range(6)]
    roster = Roster(unreadable=fields, rows_read={"Person": 100}, rows_received={"Person": 1000})
    assert "6 of 100 Person records from FACTS cannot be read" in str(roster.unreadable_stop())


# --- the command line: --json, the text line, --report ------------------------------------------


def test_sync_json_text_and_error_report(tmp_path: Path) -> None:
    import csv
    import json

    from click.testing import CliRunner

    from core.cli import cli
    from core.facts.plans import SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY
    from core.facts.sandbox import Sandbox, SandboxConfig, School, serve_in_thread

    tables = school()
    row(tables, "parentStudent", parentID=10_011)["parentID"] = "abc"
    row(tables, "people", personId=10_022)["lastName"] = "=HYPERLINK(\"http://x\")"
    row(tables, "people", personId=10_022)["email"] = None
    sandbox = Sandbox(School.from_json(tables), SandboxConfig(plan="enterprise", rate_limits=False))
    db, report = str(tmp_path / "s.db"), tmp_path / "report.csv"
    env = {"FACTSYNC_SUBSCRIPTION_KEY": SANDBOX_SUBSCRIPTION_KEY, "FACTSYNC_API_KEY": SANDBOX_API_KEY}
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> Any:
        result = runner.invoke(cli, [*args, "--db", db], env=env)
        assert result.exit_code == code, result.output
        return result

    with serve_in_thread(sandbox) as server:
        run("site", "add", "pta")
        run("connect", "pta", "--base-url", server.base_url, "--facts-plan", "enterprise")
        run("setup", "pta", "--kind", "parents")
        # a first sync: its conflicts are new (exit 3)
        text = run("sync", "pta", "--dry-run", "--report", str(report), code=3).output
        assert "1 unreadable FACTS record left out" in text
        assert "unreadable ParentStudent 10011-10013: parentID 'abc' is not a number" in text
        body = json.loads(run("sync", "pta", "--json", code=3).stdout)
        run("sync", "pta", "--report", str(tmp_path / "missing" / "r.csv"), code=2)
    assert body["counts"]["unreadable"] == 1
    assert body["unreadable"] == [{"resource": "ParentStudent", "key": "10011-10013",
                                   "field": "parentID", "problem": "'abc' is not a number",
                                   "page": 1, "row": None}]
    with report.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["kind", "personId", "name", "email", "familyId", "reason"]
    kinds = {r[0] for r in rows[1:]}
    assert {"unreadable", "skipped"} <= kinds or {"unreadable", "conflict"} <= kinds
    unreadable = next(r for r in rows if r[0] == "unreadable")
    assert unreadable[1] == "10013" and "parentID 'abc' is not a number" in unreadable[5]
    waiting = next(r for r in rows if r[1] == "10022")
    assert waiting[2].startswith("Bob '=HYPERLINK") or waiting[2].startswith("Bob =HYPERLINK")
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r)
