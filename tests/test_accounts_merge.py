"""Manual accounts, merges (hours move, journaled, undoable) and what later syncs make of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import accounts as acc
from core.sync import service
from store.models import Account, HourEntry
from tests.sync_support import (
    Env,
    accounts_by_email,
    add_hours,
    build_school,
    make_env,
    parent,
    student,
)


def tables() -> dict:  # type: ignore[type-arg]
    return build_school(
        {
            10: [parent(1, "Jon", "Smith", "jon@school.org"), student(2, "Al", "Smith")],
            20: [parent(3, "Kay", "Wu", "kay@school.org"), parent(4, "Kay", "Wu", "kay.wu@home.org", order=2),
                 student(5, "Bo", "Wu")],
        }
    )


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return make_env(tmp_path, tables())


def test_manual_accounts_need_a_valid_unique_email(env: Env) -> None:
    acc.add_account(env.site, email="Pat@Home.org", first_name="Pat", last_name="Doe")
    with pytest.raises(acc.AccountError, match="already has an account"):
        acc.add_account(env.site, email=" pat@home.ORG ", first_name="P", last_name="D")
    with pytest.raises(acc.AccountError, match="not valid"):
        acc.add_account(env.site, email="pat@", first_name="P", last_name="D")
    (view,) = acc.list_accounts(env.site)
    assert view.to_json() == {
        "id": view.id, "email": "Pat@Home.org", "firstName": "Pat", "lastName": "Doe", "status": "active",
        "origin": "manual", "personId": None, "familyKey": None, "hours": 0.0, "invited": False,
    }


async def test_merge_moves_hours_and_link_survives_resync_and_undo(env: Env) -> None:
    manual = acc.add_account(env.site, email="john.smith@gmail.com", first_name="John", last_name="Smith")
    add_hours(manual.id, 4.0)
    add_hours(manual.id, 1.0, status="pending")
    result = await env.sync()
    (dup,) = [d for d in result.plan.duplicates if "john.smith@gmail.com" in (d.a.email, d.b.email)]
    assert "similar" in dup.reason
    synced = accounts_by_email(env.site)["jon@school.org"]
    add_hours(synced.id, 2.5)
    run = acc.merge_accounts(env.store, env.site, keep="john.smith@gmail.com", absorb="jon@school.org")
    kept = Account.get_by_id(manual.id)
    gone = Account.get_by_id(synced.id)
    assert (kept.person_id, kept.origin, kept.family_key) == (1, "sis", "10")
    assert (gone.status, gone.person_id, gone.email_key) == ("archived", None, None)
    assert HourEntry.select().where(HourEntry.account == kept).count() == 3
    assert accounts_by_email(env.site)["john.smith@gmail.com"].hours == 6.5
    # later syncs keep the merged account and its email; nothing is re-created
    again = await env.sync()  # FACTS names win; the email the admin kept stays
    (update,) = again.plan.of("update")
    assert [c.field for c in update.changes] == ["first_name"]
    assert Account.get_by_id(manual.id).email == "john.smith@gmail.com"
    assert (await env.sync()).run is None
    history = service.history(env.store, env.site)
    assert history[1].id == run.id and history[1].kind == "merge"
    # undo (of the sync, then of the merge) puts everything back: hours, link, email, setup
    service.undo(env.store, env.site)
    service.undo(env.store, env.site)
    assert Account.get_by_id(manual.id).person_id is None
    back = Account.get_by_id(synced.id)
    assert (back.status, back.person_id, back.email_key) == ("active", 1, "jon@school.org")
    assert HourEntry.select().where(HourEntry.account == back).count() == 1
    setup = service.load_setup(env.store, env.site)
    assert setup is not None and setup.kept_emails == {}
    assert HourEntry.select().count() == 3


async def test_merging_two_facts_people_skips_the_absorbed_one_later(env: Env) -> None:
    await env.sync()
    result = await env.sync()
    assert result.run is None
    plan = await env.plan()
    assert not plan.duplicates  # only new accounts are compared
    acc.merge_accounts(env.store, env.site, keep="kay@school.org", absorb="kay.wu@home.org")
    again = await env.sync()
    assert again.run is None
    assert [it.person_id for it in again.plan.of("skip")] == [4]
    with pytest.raises(acc.AccountError, match="same account"):
        acc.merge_accounts(env.store, env.site, keep="kay@school.org", absorb="KAY@school.org")


async def test_same_name_in_one_family_is_offered_as_a_duplicate(env: Env) -> None:
    plan = await env.plan()
    reasons = {(d.a.person_id, d.b.person_id): d.reason for d in plan.duplicates}
    assert reasons == {(3, 4): "same name in family 20"}


async def test_linking_enqueues_approved_hours_for_write_back(env: Env) -> None:
    from store.models import Outbox

    manual = acc.add_account(env.site, email="jon@school.org", first_name="Jon", last_name="Smith")
    approved = add_hours(manual.id, 2.0)
    add_hours(manual.id, 1.0, status="pending")
    other = acc.add_account(env.site, email="kay.w@gmail.com", first_name="Kay", last_name="Wu")
    moved = add_hours(other.id, 3.0)
    result = await env.sync()
    assert result.plan.counts()["linked"] == 1
    assert [o.entry_id for o in Outbox.select()] == [approved]  # in the sync's transaction
    acc.merge_accounts(env.store, env.site, keep="kay.w@gmail.com", absorb="kay@school.org")
    assert sorted(o.entry_id for o in Outbox.select()) == [approved, moved]
    assert {o.resource for o in Outbox.select()} == {"parents"}
