"""Holds instead of dead ends (issue 10 §2): the empty-roster case approved and rejected, the
mass-archive case held then approved, a changed roster refusing an approval, the threshold per
site, and a paused site. Against the in-process sandbox: outcomes are rows in the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import site_settings
from core.sync import service
from core.sync.holds import HoldError
from store.models import Account, Hold, SyncRun
from tests.sync_support import Env, make_env
from tests.test_sync_rules import school


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return make_env(tmp_path, school())


def statuses(env: Env) -> dict[str, int]:
    out: dict[str, int] = {}
    for a in Account.select().where(Account.site == env.site):
        out[a.status] = out.get(a.status, 0) + 1
    return out


def empty(env: Env) -> None:
    tables = env.edit()
    tables["students"] = []
    env.serve(tables)


async def approve(env: Env, hold_id: int) -> SyncRun:
    return await service.approve_hold(env.store, env.site, hold_id, by="ms.admin@school",
                                      transport=env.sandbox.transport())


async def test_an_empty_roster_is_held_then_approved_and_undone(env: Env) -> None:
    await env.sync()
    assert statuses(env) == {"active": 6}
    empty(env)
    result = await env.sync()
    assert result.hold is not None and result.hold_new and len(result.hold.rows) == 6
    assert "no students at all" in result.hold.reason
    assert result.attention() and statuses(env) == {"active": 6}
    (listed,) = service.holds(env.store, env.site)
    assert listed.id == result.hold.id and listed.state == "open"
    assert {r.email for r in listed.rows} >= {"ann@lee.org", "gus@ray.org"}
    # the same empty roster tomorrow: the same hold still waits, nothing new
    again = await env.sync()
    assert again.hold is not None and again.hold.id == listed.id and not again.hold_new
    assert again.attention() == [] and Hold.select().count() == 1

    run = await approve(env, listed.id)  # the school really withdrew everyone
    assert statuses(env) == {"archived": 6}
    (done,) = service.holds(env.store, env.site, all_states=True)
    assert done.state == "approved" and done.run_number == run.number
    assert done.resolved_by == "ms.admin@school"
    with pytest.raises(HoldError, match="approved already"):
        await approve(env, listed.id)
    service.undo(env.store, env.site)  # journaled like any run
    assert statuses(env) == {"active": 6}


async def test_an_empty_roster_rejected_is_not_held_again(env: Env) -> None:
    await env.sync()
    empty(env)
    first = await env.sync()
    assert first.hold is not None
    service.reject_hold(env.store, env.site, first.hold.id, by="ms.admin@school")
    assert statuses(env) == {"active": 6} and service.holds(env.store, env.site) == []
    again = await env.sync()
    assert again.attention() == [] and again.hold is not None and again.hold.state == "rejected"
    assert Hold.select().count() == 1 and statuses(env) == {"active": 6}


async def test_a_mass_archive_is_held_then_approved(env: Env) -> None:
    await env.sync()
    service.save_setup(env.store, env.site, grades=["08"])
    result = await env.sync()
    assert result.hold is not None and len(result.hold.rows) == 5
    assert statuses(env) == {"active": 6}  # everything else was applied; nothing archived
    await approve(env, result.hold.id)
    assert statuses(env) == {"active": 1, "archived": 5}
    ida = Account.get(Account.email == "ida@orr.org")
    assert ida.status == "active"


async def test_an_approval_the_roster_no_longer_supports_is_refused(env: Env) -> None:
    await env.sync()
    full = env.edit()
    empty(env)
    result = await env.sync()
    assert result.hold is not None
    env.serve(full)  # FACTS answers in full again: the archives no longer apply
    with pytest.raises(HoldError, match="no longer applies.*matches again"):
        await approve(env, result.hold.id)
    assert statuses(env) == {"active": 6}
    assert service.holds(env.store, env.site)[0].state == "open"
    # a sync with the roster as it is now ends the hold: nothing waits any more
    await env.sync()
    assert service.holds(env.store, env.site) == []


async def test_the_threshold_is_per_site(env: Env) -> None:
    await env.sync()
    site_settings.set_threshold(env.store, env.site, "5")  # up to five archives need no confirmation
    service.save_setup(env.store, env.site, grades=["08"])
    result = await env.sync()
    assert result.hold is None and statuses(env) == {"active": 1, "archived": 5}


async def test_a_paused_site_neither_syncs_nor_approves(env: Env) -> None:
    await env.sync()
    service.save_setup(env.store, env.site, grades=["08"])
    held = await env.sync()
    assert held.hold is not None
    site_settings.pause(env.store, env.site, site_settings.parse_until("2999-01-01"), "year-end rollover")
    with pytest.raises(service.SitePaused, match="year-end rollover"):
        await env.sync()
    with pytest.raises(service.SitePaused):
        await approve(env, held.hold.id)
    assert statuses(env) == {"active": 6}
    assert site_settings.resume(env.store, env.site)
    await approve(env, held.hold.id)
    assert statuses(env) == {"active": 1, "archived": 5}
