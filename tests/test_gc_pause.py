"""The garbage collector stays out of plan and apply (issue 13), and the pause always ends."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.demo import roster_from_school
from core.facts.sandbox import generate_school
from core.gc_pause import gc_paused
from core.sites import add_site
from core.sync import service
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


def test_pause_nests_survives_errors_and_keeps_a_collector_that_was_off_off() -> None:
    with gc_paused():
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_overlapping_pauses_in_two_threads_end_with_the_last() -> None:
    entered, release = threading.Event(), threading.Event()

    def other() -> None:
        with gc_paused():
            entered.set()
            release.wait(5)

    thread = threading.Thread(target=other)
    with gc_paused():
        thread.start()
        assert entered.wait(5)
    assert not gc.isenabled()  # the other thread's pause is still on
    release.set()
    thread.join(5)
    assert gc.isenabled()
