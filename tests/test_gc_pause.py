"""The garbage collector stays out of plan and apply (issue 13), the pause always ends, and what
a fetch, a review and a plan leave is out of every later collection."""

from __future__ import annotations

import gc
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.connection import save_connection
from core.demo import roster_from_school
from core.facts.plans import SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY
from core.facts.records import Membership, ParentLink, Person
from core.facts.sandbox import Sandbox, SandboxConfig, generate_school, serve_in_thread
from core.gc_pause import long_lived
from core.sites import add_site
from core.sync import service
from core.sync.plan import PlanItem, Target
from core.sync.selection import Candidate
from store import open_store


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """Generations of the automatic collections that start while the test runs."""
    seen: list[int] = []

    def record(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            seen.append(info["generation"])

    gc.callbacks.append(record)
    try:
        yield seen
    finally:
        gc.callbacks.remove(record)


def test_plan_and_apply_of_a_school_run_without_a_collection(
    tmp_path: Path, collections: list[int]
) -> None:
    roster = roster_from_school(generate_school(families=300, seed=3))
    store = open_store(tmp_path / "s.db")
    try:
        site = add_site(store, "pta")
        service.save_setup(store, site, kind="parents")
        assert gc.isenabled()
        gc.collect()  # every generation's count starts from zero
        collections.clear()
        plan = service.make_plan(store, site, roster)
        run = service.apply_plan(store, site, plan, confirm_archive=True)
        rows = len(service.review_model(store, site, roster))
        # none while they run: at most the one the end of each pause lets start, of the young
        assert collections in ([], [0], [0, 0], [0, 0, 0]), collections
        assert run.id and len(plan.of("add")) > 300 and rows
        assert gc.isenabled()
        junk: list[list[object]] = [[] for _ in range(50_000)]  # collection works again after
        assert collections and junk
    finally:
        store.close()


async def test_what_fetch_review_and_plan_build_is_out_of_later_collections(
    tmp_path: Path,
) -> None:
    """A 20,000-family roster, review and plan are ~500,000 objects: a full collection walking
    them took 0.6 s, on whatever key the admin pressed next."""
    sandbox = Sandbox(generate_school(families=60, seed=5),
                      SandboxConfig(plan="enterprise", rate_limits=False))
    store = open_store(tmp_path / "s.db")
    try:
        site = add_site(store, "pta")
        save_connection(store, site, base_url="https://api.factsmgt.com", api_key=SANDBOX_API_KEY,
                        subscription_key=SANDBOX_SUBSCRIPTION_KEY, plan="enterprise")
        service.save_setup(store, site, kind="parents")
        roster = await service.fetch(store, site, transport=sandbox.transport())
        review = service.review_model(store, site, roster)
        plan = service.make_plan(store, site, roster, review)
        assert gc.isenabled()
        walked = {type(o) for o in gc.get_objects()}  # what a collection would walk now
        assert not walked & {Person, ParentLink, Membership, Candidate, PlanItem, Target}
        assert roster.people and len(review) and plan.of("add")  # alive, only not walked
    finally:
        store.close()


async def test_a_fetch_leaves_no_garbage_behind_in_the_frozen_generation(tmp_path: Path) -> None:
    """A closed connection's transport is a reference cycle: frozen with the roster, every fetch
    of a daemon syncing for months would keep its sockets' objects for good."""
    import asyncio.selector_events as selector_events

    gc.unfreeze()
    gc.collect()  # whatever earlier tests left frozen goes now
    sandbox = Sandbox(generate_school(families=40, seed=5),
                      SandboxConfig(plan="enterprise", rate_limits=False))
    store = open_store(tmp_path / "s.db")
    with serve_in_thread(sandbox, port=0) as server:
        site = add_site(store, "pta")
        save_connection(store, site, base_url=server.base_url, api_key=SANDBOX_API_KEY,
                        subscription_key=SANDBOX_SUBSCRIPTION_KEY, plan="enterprise")
        service.save_setup(store, site, kind="parents")
        for _ in range(3):
            roster = await service.fetch(store, site)
        assert roster.people and gc.get_freeze_count()
    store.close()
    gc.unfreeze()  # what was frozen can be seen again (and is collected again)

    def closed(o: object) -> bool:
        if isinstance(o, httpx.AsyncClient):
            return o.is_closed
        return isinstance(o, selector_events._SelectorSocketTransport) and o.is_closing()

    def still_open(o: object) -> bool:  # the store is closed: an open connection is a leak
        try:
            return isinstance(o, sqlite3.Connection) and o.total_changes >= 0
        except sqlite3.ProgrammingError:
            return False

    assert not [o for o in gc.get_objects() if closed(o)]
    assert not [o for o in gc.get_objects() if still_open(o)]  # (each client's rate budget)


def test_pause_nests_survives_errors_and_keeps_a_collector_that_was_off_off() -> None:
    with long_lived():
        with long_lived():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), long_lived():
        raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with long_lived():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_overlapping_pauses_in_two_threads_end_with_the_last() -> None:
    entered, release = threading.Event(), threading.Event()

    def other() -> None:
        with long_lived():
            entered.set()
            release.wait(5)

    thread = threading.Thread(target=other)
    with long_lived():
        thread.start()
        assert entered.wait(5)
    assert not gc.isenabled()  # the other thread's pause is still on
    release.set()
    thread.join(5)
    assert gc.isenabled()
