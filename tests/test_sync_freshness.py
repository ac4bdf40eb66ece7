"""Apply refuses a plan made before someone else changed the accounts (StalePlan), leaves the store
as it was, and still applies plans whose emails move between accounts in the same run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core import accounts as acc
from core.sites import add_site
from core.sync import service
from core.sync.apply import StalePlan
from core.sync.journal import SNAPSHOT_FIELDS
from core.sync.plan import make_plan
from store import Store, open_store
from store.models import Account, Site, SyncRun
from tests.sync_support import Tables, build_school, parent, roster_of, student


def school(ann: str = "ann@lee.org", bob: str = "bob@lee.org", *, zed: str | None = None,
           ann_first: str = "Ann") -> Tables:
    fams: dict[int, list[Any]] = {
        10: [parent(1, ann_first, "Lee", ann), parent(2, "Bob", "Lee", bob, order=2, rel="Father"),
             student(3, "Cy", "Lee")],
        20: [parent(4, "Dee", "Fox", "dee@fox.org"), student(6, "Flo", "Fox")],
    }
    if zed is not None:
        fams[30] = [parent(7, "Zed", "Ray", zed), student(8, "Hal", "Ray")]
    return build_school(fams)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Store, Site]]:
    store = open_store(tmp_path / "s.db")
    try:
        s = add_site(store, "pta")
        service.save_setup(store, s, kind="parents")
        yield store, s
    finally:
        store.close()


def plan_of(store: Store, s: Site, tables: Tables) -> service.SyncPlan:
    return service.make_plan(store, s, roster_of(tables))


def accounts() -> dict[int, dict[str, Any]]:
    return {a.id: {n: getattr(a, n) for n in SNAPSHOT_FIELDS} for a in Account.select()}


def refused(store: Store, s: Site, plan: service.SyncPlan, match: str) -> None:
    before, runs = accounts(), SyncRun.select().count()
    with pytest.raises(StalePlan, match=match):
        service.apply_plan(store, s, plan, confirm_archive=True)
    assert accounts() == before and SyncRun.select().count() == runs


def test_an_account_the_plan_writes_changed_meanwhile(site: tuple[Store, Site]) -> None:
    store, s = site
    service.apply_plan(store, s, plan_of(store, s, school()))
    plan = plan_of(store, s, school(ann_first="Anne"))
    assert [it.name for it in plan.of("update")] == ["Anne Lee"]
    Account.update(last_name="Lee-Smith").where(Account.person_id == 1).execute()
    refused(store, s, plan, "account ann@lee.org changed since the plan was made")


def test_accounts_the_plan_saw_were_removed_by_an_undo(site: tuple[Store, Site]) -> None:
    store, s = site
    service.apply_plan(store, s, plan_of(store, s, school()))
    plan = plan_of(store, s, school(zed="zed@ray.org"))
    assert len(plan.of("add")) == 1 and len(plan.of("unchanged")) == 3
    service.undo(store, s)  # deletes the three accounts the plan calls unchanged
    refused(store, s, plan, r"the site changed since the plan was made \(run 2\)")


def test_an_add_whose_person_or_email_was_taken_meanwhile(site: tuple[Store, Site]) -> None:
    store, s = site
    plan = service.make_plan(store, s, roster_of(school()))
    service.apply_plan(store, s, plan)
    refused(store, s, plan, "the site changed since the plan was made")  # its own run
    pure = make_plan(service.require_setup(store, s), roster_of(school()), [])
    refused(store, s, pure, "person 1 got an account since the plan was made")
    later = plan_of(store, s, school(zed="zed@ray.org"))
    acc.add_account(s, email="ZED@ray.org", first_name="Z", last_name="R")
    refused(store, s, later, "email zed@ray.org went to another account since the plan")


def test_emails_that_move_between_accounts_in_one_run(site: tuple[Store, Site]) -> None:
    store, s = site
    service.apply_plan(store, s, plan_of(store, s, school()))
    swapped = plan_of(store, s, school(ann="bob@lee.org", bob="ann@lee.org"))
    assert len(swapped.of("update")) == 2 and not swapped.open_conflicts
    service.apply_plan(store, s, swapped)
    by_person = {a.person_id: a.email for a in Account.select()}
    assert (by_person[1], by_person[2]) == ("bob@lee.org", "ann@lee.org")
    # Ann moves on and a new parent takes her old address in the same run
    moved = plan_of(store, s, school(ann="ann.new@lee.org", bob="ann@lee.org", zed="bob@lee.org"))
    assert [it.email for it in moved.of("add")] == ["bob@lee.org"]
    service.apply_plan(store, s, moved)
    by_person = {a.person_id: a.email for a in Account.select()}
    assert (by_person[1], by_person[7]) == ("ann.new@lee.org", "bob@lee.org")
    assert service.make_plan(store, s, roster_of(school(
        ann="ann.new@lee.org", bob="ann@lee.org", zed="bob@lee.org"))).writes == 0
