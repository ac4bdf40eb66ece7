"""One scenario per rule of the sync issue, against the in-process sandbox and a temp store."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from core import accounts as acc
from core.connection import save_connection
from core.facts.plans import SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY
from core.sites import SiteError, add_site
from core.sync import service
from store.models import Account, HourEntry, Lease, SyncChange, SyncRun
from tests.sync_support import (
    Env,
    Tables,
    accounts_by_email,
    add_hours,
    build_school,
    make_env,
    parent,
    student,
)


def school() -> Tables:
    return build_school(
        {
            10: [
                parent(1, "Ann", "Lee", "ann@lee.org", rel="Mother"),
                parent(2, "Bob", "Lee", "bob@lee.org", order=2, rel="FATHER ", custody=False),
                student(3, "Cy", "Lee", "cy@lee.org", grade="05"),
            ],
            20: [
                parent(4, "Dee", "Fox", "dee@fox.org", rel="Step mother"),
                parent(5, "Ed", "Fox", "ed@fox.org", order=2, rel="Guardian", custody=False),
                student(6, "Flo", "Fox", "flo@fox.org", grade="K", school="MS"),
            ],
            30: [
                parent(7, "Gus", "Ray", "gus@ray.org", rel="Grand parent"),
                student(8, "Hal", "Ray", "hal@ray.org", grade="07"),
            ],
            40: [
                parent(9, "Ida", "Orr", "ida@orr.org", rel="Mother"),
                student(11, "Jo", "Orr", "jo@orr.org", grade="08"),
            ],
        }
    )


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return make_env(tmp_path, school())


def active_people(env: Env) -> set[int]:
    return {
        a.person_id
        for a in Account.select().where((Account.site == env.site) & (Account.status == "active"))
        if a.person_id is not None
    }


# --- 1. sites and kinds ------------------------------------------------------------------------


async def test_rule1_integration_needs_the_advanced_plan(tmp_path: Path) -> None:
    env = make_env(tmp_path, school())
    basic = add_site(env.store, "basic-site", plan="basic")
    with pytest.raises(SiteError, match="'advanced' plan"):
        service.save_setup(env.store, basic, kind="students")
    with pytest.raises(SiteError, match="'advanced' plan"):
        await service.sync(env.store, "basic-site", transport=env.sandbox.transport())


async def test_rule1_kind_is_fixed_and_a_second_site_holds_the_other(env: Env) -> None:
    await env.sync()
    with pytest.raises(SiteError, match="second site"):
        service.save_setup(env.store, env.site, kind="students")
    students = add_site(env.store, "kids")
    save_connection(env.store, students, base_url="https://api.factsmgt.com",
                    api_key=SANDBOX_API_KEY, subscription_key=SANDBOX_SUBSCRIPTION_KEY)
    service.save_setup(env.store, students, kind="students")
    await service.sync(env.store, "kids", transport=env.sandbox.transport())
    kids = {a.role for a in Account.select().where(Account.site == students)}
    parents = {a.role for a in Account.select().where(Account.site == env.site)}
    assert kids == {"student"} and parents == {"parent"}


# --- 2. criteria ------------------------------------------------------------------------------


async def test_rule2_criteria_school_status_grade_and_parents_of_matching_students(
    tmp_path: Path,
) -> None:
    tables = school()
    # Ida's child graduated; Gus has a second, enrolled child in another grade
    tables["students"][3]["school"]["status"] = "Graduate"
    env = make_env(tmp_path, tables, kind="students", grades=["05", "k"])
    await env.sync()
    assert active_people(env) == {3, 6}  # grade "K" matched "k"; 07 and 08 left out
    service.save_setup(env.store, env.site, schools=["MS"], grades=[])
    await env.sync(confirm_archive=True)
    assert active_people(env) == {6}

    penv = make_env(tmp_path / "p", tables, kind="parents", statuses=["Enrolled"])
    await penv.sync()
    assert active_people(penv) == {1, 2, 4, 5, 7}  # Ida (only a graduate) is not rostered


# --- 3. parent subsets --------------------------------------------------------------------------


async def test_rule3_presets_and_per_family_overrides(env: Env) -> None:
    service.save_setup(env.store, env.site, parents_preset="mothers-fathers")
    plan = await env.plan()
    assert {it.person_id for it in plan.of("add")} == {1, 2, 9}  # "FATHER " counts; step/grand don't
    service.save_setup(env.store, env.site, parents_preset="listed-first")
    assert {it.person_id for it in (await env.plan()).of("add")} == {1, 4, 7, 9}
    service.save_setup(env.store, env.site, parents_preset="custodial")
    assert {it.person_id for it in (await env.plan()).of("add")} == {1, 4, 7, 9}
    service.save_setup(env.store, env.site, parents_preset="all")
    service.set_override(env.store, env.site, 10, 2, include=False)
    service.set_override(env.store, env.site, 40, None, include=False)
    service.save_setup(env.store, env.site, parents_preset="mothers-fathers")
    service.set_override(env.store, env.site, 30, 7, include=True)
    await env.sync()
    assert active_people(env) == {1, 7}
    saved = service.load_setup(env.store, env.site)
    assert saved is not None and len(saved.parents.overrides) == 3
    review = service.review_model(env.store, env.site, await _roster(env))
    rows = {review.family(i)[0]: i for i in range(len(review))}
    assert review.family_excluded(rows[40])
    assert [review.state(rows[10], j).included for j in range(2)] == [True, False]
    assert review.slots(rows[10])[1].relationship.strip().casefold() == "father"
    assert review.state(rows[30], 0).overridden and review.state(rows[30], 0).included


async def _roster(env: Env):  # type: ignore[no-untyped-def]
    return await service.fetch(env.store, env.site, transport=env.sandbox.transport())


# --- 4. matching --------------------------------------------------------------------------------


async def test_rule4_link_first_then_email_manual_account_keeps_hours(env: Env) -> None:
    manual = acc.add_account(env.site, email="  ANN@Lee.org", first_name="Annie", last_name="Lee")
    add_hours(manual.id, 3.5)
    other = acc.add_account(env.site, email="dee.fox@gmail.com", first_name="Dee", last_name="Fox")
    result = await env.sync()
    assert result.plan.counts()["linked"] == 1
    ann = Account.get_by_id(manual.id)
    assert (ann.person_id, ann.origin, ann.email) == (1, "sis", "ann@lee.org")
    assert accounts_by_email(env.site)["ann@lee.org"].hours == 3.5
    # Dee's FACTS email differs from her hand-made account: a new account, offered as duplicate
    dups = [(d.a.email, d.b.email) for d in result.plan.duplicates]
    assert ("dee.fox@gmail.com", "dee@fox.org") in dups
    assert Account.get_by_id(other.id).person_id is None
    # the link wins over the email: Ann changes her email in FACTS, same account, hours kept
    tables = env.edit()
    tables["people"][0]["email"] = "ann.new@lee.org"
    env.serve(tables)
    result = await env.sync()
    assert result.plan.counts()["updated"] == 1
    ann = Account.get_by_id(manual.id)
    assert ann.email == "ann.new@lee.org" and accounts_by_email(env.site)["ann.new@lee.org"].hours == 3.5


# --- 5. conflicts -----------------------------------------------------------------------------


async def test_rule5_conflicts_wait_for_decisions_others_go_ahead(tmp_path: Path) -> None:
    tables = build_school(
        {
            10: [parent(1, "Ann", "Lee", "lee@home.org"), parent(2, "Bob", "Lee", "LEE@home.org ", order=2),
                 student(3, "Cy", "Lee")],
            20: [parent(4, "Dee", "Fox", "shared@x.org"), student(6, "Flo", "Fox")],
            30: [parent(7, "Gus", "Ray", "shared@x.org"), student(8, "Hal", "Ray")],
            40: [parent(9, "Ida", "Orr", None, email2="ida2@orr.org"), parent(12, "Kim", "Orr", "kim@", order=2),
                 student(11, "Jo", "Orr")],
            50: [parent(13, "Lu", "Poe", None, email2="lu@poe.org"), student(14, "Mo", "Poe")],
            60: [parent(13, "Lu", "Poe", None, order=2, email2="lu@poe.org"),
                 student(15, "Ned", "Poe")],
            70: [parent(16, "Oz", "Kay", "taken@kay.org"), student(17, "Pi", "Kay")],
        }
    )
    env = make_env(tmp_path, tables)
    held = acc.add_account(env.site, email="taken@kay.org", first_name="Oz", last_name="Kay")
    # a parent who left (archived, linked to FACTS person 999) still holds Oz's email
    Account.update(person_id=999, origin="sis", status="archived").where(
        Account.id == held.id
    ).execute()
    result = await env.sync()
    kinds = {(c.key, c.kind, c.flag) for c in result.plan.open_conflicts}
    assert kinds == {
        ("email:lee@home.org", "shared-email-family", "red"),
        ("email:shared@x.org", "shared-email-cross-family", "red"),
        ("person:9:missing-email", "missing-email", "red"),
        ("person:12:invalid-email", "invalid-email", "orange"),
        ("person:13:multi-family", "multi-family", "orange"),
        ("person:13:missing-email", "missing-email", "red"),
        ("email:taken@kay.org:taken", "email-taken", "red"),
    }
    assert result.plan.counts()["conflicts"] == 7
    assert active_people(env) == set()  # nobody conflicted was imported
    assert result.run is not None and result.plan.writes == 0  # only conflicts, remembered
    # decisions: saved, reused, each resolving its conflict
    service.decide(env.store, env.site, email="lee@home.org", person_id=1)
    service.decide(env.store, env.site, email="shared@x.org", skip=True)
    service.decide(env.store, env.site, person_id=9, use_email2=True)
    service.decide(env.store, env.site, person_id=12, skip=True)
    service.decide(env.store, env.site, person_id=13, family_id=60)
    service.decide(env.store, env.site, person_id=13, use_email2=True)  # both answers kept
    result = await env.sync()
    assert [c.key for c in result.plan.open_conflicts] == ["email:taken@kay.org:taken"]
    assert active_people(env) == {1, 9, 13}
    assert accounts_by_email(env.site)["ida2@orr.org"].person_id == 9
    assert accounts_by_email(env.site)["lu@poe.org"].family_key == "60"
    gray = {c.key for c in result.plan.conflicts if c.flag == "gray"}
    assert {"email:lee@home.org", "email:shared@x.org", "person:13:multi-family"} <= gray
    assert result.plan.open_conflicts[0].new is False  # already shown at the last sync
    again = await env.sync()
    assert again.plan.counts()["conflicts"] == 1 and again.run is None


# --- 6. families --------------------------------------------------------------------------------


async def test_rule6_family_keys_and_saved_groupings(env: Env) -> None:
    await env.sync()
    assert accounts_by_email(env.site)["dee@fox.org"].family_key == "20"
    service.group_families(env.store, env.site, [30, 20])
    result = await env.sync()
    assert result.plan.counts()["updated"] == 1  # Gus: 30 -> 20
    keys = {a.email: a.family_key for a in acc.list_accounts(env.site)}
    assert keys["dee@fox.org"] == keys["ed@fox.org"] == keys["gus@ray.org"] == "20"
    assert (await env.sync()).run is None  # the grouping holds on every later sync


# --- 7. plan, then apply; journal, history, undo -----------------------------------------------


async def test_rule7_plan_is_pure_apply_is_journaled_and_undone(env: Env) -> None:
    roster = await _roster(env)
    first = service.make_plan(env.store, env.site, roster)
    assert first == service.make_plan(env.store, env.site, roster)
    assert Account.select().count() == 0 and SyncRun.select().count() == 0
    run = service.apply_plan(env.store, env.site, first)
    changes = service.changes_of(env.store, run.id)
    assert len(changes) == 6 and all(c["action"] == "add" and c["before"] is None for c in changes)
    tables = env.edit()
    tables["people"][0]["lastName"] = "Lee-Smith"
    tables["students"][0]["school"]["status"] = "Withdrawn"  # Cy leaves: Ann and Bob archived...
    tables["students"][2]["school"]["status"] = "Enrolled"
    env.serve(tables)
    second = await env.sync(confirm_archive=True)
    assert second.run is not None
    journal = {c["action"]: c for c in service.changes_of(env.store, second.run.id)}
    assert journal["archive"]["before"]["status"] == "active"
    assert journal["archive"]["after"]["status"] == "archived"
    history = service.history(env.store, env.site)
    assert [h.id for h in history] == [second.run.id, run.id]
    service.undo(env.store, env.site)
    assert active_people(env) == {1, 2, 4, 5, 7, 9}
    service.undo(env.store, env.site)
    assert Account.select().count() == 0
    with pytest.raises(service.SyncError, match="no run to undo"):
        service.undo(env.store, env.site)


# --- 8. archive on re-sync -------------------------------------------------------------------


async def test_rule8_archive_restore_manual_safe_and_threshold(env: Env) -> None:
    acc.add_account(env.site, email="helper@school.org", first_name="Hel", last_name="Per")
    await env.sync()
    gus = accounts_by_email(env.site)["gus@ray.org"]
    add_hours(gus.id, 2.0)
    tables = env.edit()
    tables["students"][2]["school"]["status"] = "Graduate"  # Hal: Gus no longer matches (1 of 7)
    env.serve(tables)
    result = await env.sync()
    (item,) = result.plan.of("archive")
    assert item.person_id == 7 and "Graduate" in item.reason
    gus = accounts_by_email(env.site)["gus@ray.org"]
    assert gus.status == "archived" and gus.hours == 2.0
    assert accounts_by_email(env.site)["helper@school.org"].status == "active"
    env.serve(school())  # Hal re-enrolls: Gus is restored with his hours
    result = await env.sync()
    assert [it.person_id for it in result.plan.of("restore")] == [7]
    assert accounts_by_email(env.site)["gus@ray.org"].status == "active"
    # a filter mistake would archive 5 of 6: held without --confirm-archive, nothing archived
    service.save_setup(env.store, env.site, grades=["08"])
    before = Account.select().where(Account.status == "archived").count()
    held = await env.sync()
    assert held.hold is not None and held.hold_new and len(held.hold.rows) == 5
    assert "more than 20%" in held.hold.reason and held.attention()
    assert Account.select().where(Account.status == "archived").count() == before
    result = await env.sync(confirm_archive=True)
    assert result.plan.counts()["archived"] == 5
    assert service.holds(env.store, env.site) == []  # the archives were made: the hold is over


async def test_rule8_an_empty_or_short_roster_archives_nobody(env: Env) -> None:
    await env.sync()
    empty = env.edit()
    empty["students"] = []
    env.serve(empty)
    result = await env.sync(confirm_archive=True)
    assert result.plan.archive.verdict == "refused" and len(result.plan.withheld) == 6
    assert "no students" in result.plan.archive.reasons[0]
    assert Account.select().where(Account.status == "archived").count() == 0


# --- 9. re-sync is one step ---------------------------------------------------------------------


async def test_rule9_resync_of_an_unchanged_school_changes_zero_rows(env: Env) -> None:
    with pytest.raises(SiteError, match="no sync setup"):
        other = add_site(env.store, "fresh")
        await service.sync(env.store, other.name, transport=env.sandbox.transport())
    await env.sync()
    before = env.store.db.connection().total_changes
    result = await env.sync()
    # the only writes: the site's sync lease, taken and given back (two syncs never overlap)
    assert env.store.db.connection().total_changes == before + 2
    assert Lease.select().count() == 0
    assert result.run is None and result.plan.counts()["unchanged"] == 6
    assert result.plan.writes == 0 and SyncChange.select().count() == 6


# --- 10. invites -------------------------------------------------------------------------------


async def test_rule10_new_accounts_are_exported_and_marked_invited(env: Env, tmp_path: Path) -> None:
    await env.sync()
    pending = acc.pending_invites(env.site)
    assert len(pending) == 6
    path = tmp_path / "invites.csv"
    path.write_text(acc.invites_csv(pending), encoding="utf-8")
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert rows[0] == {"email": "ann@lee.org", "firstName": "Ann", "lastName": "Lee", "family": "10"}
    assert acc.mark_invited(env.site, pending) == 6
    assert acc.pending_invites(env.site) == []
    assert all(a.invited for a in acc.list_accounts(env.site))
    assert HourEntry.select().count() == 0


async def test_rule10_invites_only_accounts_the_sync_created(env: Env) -> None:
    """A hand-made account the sync links existed before: it is never on the invite list."""
    manual = acc.add_account(env.site, email="ANN@lee.org", first_name="Ann", last_name="Lee")
    result = await env.sync()
    assert result.plan.counts()["linked"] == 1 and result.plan.counts()["added"] == 5
    pending = acc.pending_invites(env.site)
    assert len(pending) == 5 and manual.id not in {i.account_id for i in pending}
