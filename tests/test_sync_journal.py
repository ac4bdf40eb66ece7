"""The journal undoes every kind of change a run makes: add, link, update, archive, restore,
merge and move-hours. Each undo puts the accounts and hours back exactly as before that run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core import accounts as acc
from core.sites import add_site
from core.sync import service
from core.sync.journal import SNAPSHOT_FIELDS
from store import Store, open_store
from store.models import Account, HourEntry, Site, SyncChange
from tests.sync_support import Tables, add_hours, build_school, parent, roster_of, student


def school(*, ann_last: str = "Lee", flo_status: str = "Enrolled") -> Tables:
    return build_school(
        {
            10: [
                parent(1, "Ann", ann_last, "ann@lee.org"),
                parent(2, "Bob", "Lee", "BOB@lee.org", order=2, rel="Father"),
                student(3, "Cy", "Lee", grade="05"),
            ],
            20: [parent(4, "Dee", "Fox", "dee@fox.org"), student(6, "Flo", "Fox", status=flo_status)],
            30: [parent(7, "Gus", "Ray", "gus@ray.org"), student(8, "Hal", "Ray")],
        }
    )


def state(site: Site) -> dict[str, Any]:
    """Every account of the site field by field, and which account holds each hour entry."""
    accounts = {
        a.id: {name: getattr(a, name) for name in SNAPSHOT_FIELDS}
        for a in Account.select().where(Account.site == site)
    }
    hours = {e.id: e.account_id for e in HourEntry.select().order_by(HourEntry.id)}
    return {"accounts": accounts, "hours": hours}


def sync(store: Store, site: Site, tables: Tables) -> int:
    plan = service.make_plan(store, site, roster_of(tables))
    return service.apply_plan(store, site, plan, confirm_archive=True).id


def test_undo_reverts_every_kind_of_change_run_by_run(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s.db")
    try:
        site = add_site(store, "pta")
        service.save_setup(store, site, kind="parents")
        bob = acc.add_account(site, email="bob@lee.org", first_name="Bobby", last_name="Lee")
        extra = acc.add_account(site, email="gus.work@ray.org", first_name="Gus", last_name="Ray")
        add_hours(bob.id, 2.0)
        add_hours(extra.id, 3.0)

        before: list[tuple[int, dict[str, Any]]] = []

        def run(step: Any) -> None:
            snap = state(site)
            before.append((step(), snap))

        run(lambda: sync(store, site, school()))  # adds Ann, Dee, Gus; links Bob
        new = [i for i in acc.pending_invites(site) if i.email in ("ann@lee.org", "dee@fox.org")]
        acc.mark_invited(site, new)  # invitations sent between runs stay through their undo
        run(lambda: sync(store, site, school(ann_last="Lee-Smith", flo_status="Withdrawn")))
        run(lambda: sync(store, site, school(ann_last="Lee-Smith")))  # Dee comes back
        run(lambda: acc.merge_accounts(store, site, keep="gus@ray.org", absorb="gus.work@ray.org").id)

        actions = {c.action for c in SyncChange.select()}
        assert {"add", "link", "update", "archive", "restore", "merge", "move-hours"} <= actions
        ann, dee = (Account.get(Account.email_key == e) for e in ("ann@lee.org", "dee@fox.org"))
        assert ann.invited_at is not None and ann.last_name == "Lee-Smith"
        assert dee.invited_at is not None and dee.status == "active"

        for run_id, expected in reversed(before):
            undone = service.undo(store, site)
            assert undone.id > run_id
            assert state(site) == expected, f"undo of run {run_id}"
        assert Account.get_by_id(bob.id).person_id is None  # the manual account, as it was
    finally:
        store.close()
