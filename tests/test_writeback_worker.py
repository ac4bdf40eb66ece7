"""The write-back worker against the in-process sandbox: one rule per test."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from core import hours as hrs
from core.connection import check_connection
from core.facts.plans import Plan
from core.facts.sandbox import Faults
from core.writeback.claims import machine as _machine
from core.writeback.status import site_status
from store.models import Account, Connection, HourEntry, Outbox
from tests.test_writeback_support import (
    Env,
    approved_entries,
    assert_exactly_once,
    make_client,
    make_env,
    make_sandbox,
    worker,
)


async def drain(env: Env, transport: httpx.AsyncBaseTransport, **config: Any) -> Any:
    async with make_client(transport) as client:
        return await worker(env, client, **config).drain()


async def test_approved_entries_land_once_with_person_date_hours_and_reference(
    tmp_path: Path,
) -> None:
    env = make_env(tmp_path, accounts=20)
    approved_entries(env, 60)
    sb = make_sandbox()
    report = await drain(env, sb.transport())
    assert report.created == 60 and report.failed == 0
    assert_exactly_once(sb, env)
    assert sb.count("POST", "/Parents/ServiceHours") == 60
    assert sb.count("POST", "/Students") == 0
    # ids come from batched read-backs: the whole run stays under 1.1 requests per entry
    assert sb.count() <= 66 and report.requests == sb.count()
    reads = [r for r in sb.requests if r.method == "GET"]
    assert all("x-bypass-cache" in r.headers for r in reads)
    assert all(r.query["Filters"].startswith("personId==") for r in reads)
    row = sb.service_hours("parents")[0]
    assert row["verifiedBy"] == "Ms. Admin" and row["description"] == "Library shift 0"
    assert row["note"].startswith(f"factsync:{env.site.id}:")


async def test_student_sites_write_student_service_hours(tmp_path: Path) -> None:
    env = make_env(tmp_path, kind="students", accounts=5)
    approved_entries(env, 5)
    sb = make_sandbox()
    await drain(env, sb.transport())
    assert sb.count("POST", "/Students/ServiceHours") == 5
    assert sb.service_hours("parents") == []
    assert_exactly_once(sb, env, "students")


async def test_a_post_that_reached_facts_before_a_crash_is_adopted_not_resent(
    tmp_path: Path,
) -> None:
    env = make_env(tmp_path, accounts=3)
    entries = approved_entries(env, 3)
    sb = make_sandbox()
    # The crash: the worker committed outcome_unknown, FACTS committed the POST of entry 1,
    # and the process died before it heard the answer. Entry 2 never left the machine.
    async with make_client(sb.transport()) as client:
        w = worker(env, client)
        token, _ = w._claim()  # type: ignore[misc]
        item = w._load(token, [Outbox.get(Outbox.entry == entries[0].id).id])[0]
        await client.post_service_hours("parents", item.want.body())
    Outbox.update(claimed_by=None, claimed_until=None).execute()
    Outbox.update(outcome_unknown=True, attempts=1).where(
        Outbox.entry.in_([entries[0].id, entries[1].id])
    ).execute()
    sb.clear_requests()
    report = await drain(env, sb.transport())
    assert sb.count("POST") == 2  # entries 2 and 3; entry 1 was found by its reference
    assert report.adopted == 1 and report.created == 2
    assert_exactly_once(sb, env)
    first = sb.requests[0]
    assert first.method == "GET"  # looked up before anything was sent


@pytest.mark.parametrize(
    "faults",
    [
        Faults(drop_after_commit=0.3, seed=4),
        Faults(p500=0.3, seed=5),
        Faults(drop_before=0.2, seed=6),
        Faults(slow=0.1, slow_s=0.05, drop_after_commit=0.1, p500=0.1, seed=7),
    ],
    ids=["drop-after-commit", "500s", "drop-before", "mixed"],
)
async def test_faults_never_duplicate_and_every_id_is_recorded(
    tmp_path: Path, faults: Faults
) -> None:
    env = make_env(tmp_path, accounts=10)
    approved_entries(env, 80)
    sb = make_sandbox(faults=faults)
    report = await drain(env, sb.transport())
    assert report.failed == 0 and report.retrying == 0
    if faults.drop_after_commit:
        # some POSTs committed without an answer: found by reference, not sent again
        assert report.adopted > 0
        assert sb.count("POST", status=201) == 80
    assert_exactly_once(sb, env)


async def test_edits_after_sending_are_patched_and_withdrawals_zero_the_hours(
    tmp_path: Path,
) -> None:
    env = make_env(tmp_path, accounts=3)
    a, b, c = approved_entries(env, 3)
    sb = make_sandbox()
    await drain(env, sb.transport())
    hrs.edit_entry(env.site, a.id, hours="7.25", day="2024-08-30", description="Gala setup")
    hrs.reject(env.site, [b.id])
    hrs.delete_entry(env.site, c.id)
    sb.clear_requests()
    report = await drain(env, sb.transport())
    assert (report.updated, report.withdrawn) == (1, 2)
    assert sb.count("POST") == 0 and sb.count("PATCH") == 3 and sb.count() == 3
    rows = {r["note"].split()[0]: r for r in sb.service_hours("parents")}
    ref = f"factsync:{env.site.id}:"
    assert rows[f"{ref}{a.id}"]["hours"] == 7.25
    assert rows[f"{ref}{a.id}"]["date"] == "2024-08-30T00:00:00Z"
    assert rows[f"{ref}{a.id}"]["description"] == "Gala setup"
    for entry, why in ((b, "rejected"), (c, "deleted")):
        row = rows[f"{ref}{entry.id}"]
        assert row["hours"] == 0 and "WITHDRAWN" in row["note"] and why in row["note"]
    assert len(rows) == 3
    assert {o.operation for o in Outbox.select()} == {"update", "withdraw"}
    # approving the rejected entry again brings its hours back, on the same FACTS row
    hrs.approve(env.site, [b.id], by="Ms. Admin")
    await drain(env, sb.transport())
    again = {r["note"].split()[0]: r for r in sb.service_hours("parents")}
    assert again[f"{ref}{b.id}"]["hours"] == b.hours and len(again) == 3


async def test_an_edit_while_the_post_was_in_flight_is_patched_after_the_read_back(
    tmp_path: Path,
) -> None:
    env = make_env(tmp_path, accounts=1)
    (entry,) = approved_entries(env, 1)
    sb = make_sandbox()
    async with make_client(sb.transport()) as client:
        w = worker(env, client)
        token, _ = w._claim()  # type: ignore[misc]
        item = w._load(token, [Outbox.get().id])[0]
        await client.post_service_hours("parents", item.want.body())
    Outbox.update(state="inflight", claimed_by=None, claimed_until=None).execute()
    hrs.edit_entry(env.site, entry.id, hours="9")
    await drain(env, sb.transport())
    (row,) = sb.service_hours("parents")
    assert row["hours"] == 9.0
    assert Outbox.get().service_hours_id == row["serviceHoursId"]


async def test_read_only_key_turns_write_back_off_and_keeps_entries_queued(
    tmp_path: Path,
) -> None:
    env = make_env(tmp_path, accounts=3)
    approved_entries(env, 5)
    sb = make_sandbox(people="Read")
    report = await drain(env, sb.transport())
    assert report.disabled and "Read-only on People" in report.disabled
    assert sb.service_hours("parents") == [] and sb.count("POST") == 1  # stopped at the first 403
    assert Connection.get().people_write is False
    assert {(o.state, o.attempts, o.outcome_unknown) for o in Outbox.select()} == {
        ("pending", 0, False)
    }
    status = site_status(env.site)
    assert not status.writeback_enabled and "Read-only" in (status.writeback_reason or "")
    assert status.outbox["pending"] == 5
    # Nothing is sent while the key is read-only, not even a probe of the queue.
    sb.clear_requests()
    report = await drain(env, sb.transport())
    assert report.disabled and sb.count() == 0
    # The school grants Write; re-checking the connection turns write-back back on.
    sb.config.api_keys["SandboxKey"]["People"] = "Write"
    perms = await check_connection(env.store, env.site, transport=sb.transport())
    assert perms.people_write and site_status(env.site).writeback_enabled
    report = await drain(env, sb.transport())
    assert report.created == 5
    assert_exactly_once(sb, env)


async def test_follow_resumes_by_itself_once_write_is_granted(tmp_path: Path) -> None:
    env = make_env(tmp_path, accounts=2)
    approved_entries(env, 2)
    sb = make_sandbox(people="Read")
    Connection.update(people_write=None).execute()  # never checked: the worker checks first
    stop = asyncio.Event()
    async with make_client(sb.transport()) as client:
        w = worker(env, client, recheck_s=0.2)
        w.recheck = lambda: check_connection(env.store, env.site, transport=sb.transport())
        task = asyncio.create_task(w.follow(stop))
        await asyncio.sleep(0.4)
        assert Connection.get().people_write is False and sb.count("POST") == 0
        sb.config.api_keys["SandboxKey"]["People"] = "Write"
        for _ in range(100):
            if Outbox.select().where(Outbox.state == "sent").count() == 2:
                break
            await asyncio.sleep(0.05)
        stop.set()
        report = await asyncio.wait_for(task, 5)
    assert report.created == 2 and report.disabled is None
    assert_exactly_once(sb, env)


async def test_follow_picks_up_new_approvals_and_stops_cleanly(tmp_path: Path) -> None:
    env = make_env(tmp_path, accounts=2)
    sb = make_sandbox(latency_ms=20)
    stop = asyncio.Event()
    async with make_client(sb.transport()) as client:
        task = asyncio.create_task(worker(env, client, poll_s=0.2).follow(stop))
        await asyncio.sleep(0.3)
        entry = hrs.add_entry(env.site, email="user0@example.org", day="2024-10-01", hours=2,
                              description="New", approved_by="x")
        started = time.monotonic()
        while Outbox.get(Outbox.entry == entry.id).state != "sent":
            assert time.monotonic() - started < 5, "not picked up within 5 s"
            await asyncio.sleep(0.05)
        approved_entries(env, 40)  # then stop while these are being sent
        await asyncio.sleep(0.3)
        stop.set()
        await asyncio.wait_for(task, 5)
    assert Outbox.select().where(Outbox.claimed_by.is_null(False)).count() == 0
    # nothing lost: what the interrupted run did not finish, the next one does, once
    await drain(env, sb.transport())
    assert_exactly_once(sb, env)


class PostsFail(httpx.AsyncBaseTransport):
    """Every POST answers 503 (FACTS may or may not have committed); reads pass through."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(503, json={"statusCode": 503, "message": "busy"})
        return await self.inner.handle_async_request(request)


async def test_gives_up_after_n_attempts_looking_up_before_each_retry(tmp_path: Path) -> None:
    env = make_env(tmp_path, accounts=1)
    approved_entries(env, 1)
    sb = make_sandbox()
    report = await drain(env, PostsFail(sb.transport()), max_attempts=3)
    assert report.failed == 1
    row = Outbox.get()
    assert (row.state, row.attempts) == ("failed", 3)
    assert "HTTP 503" in (row.last_error or "")
    # every attempt was preceded by a look-up (GETs reach the sandbox): the first, because
    # FACTS may hold the entry already; the retries, because the outcome was unknown
    assert sb.count("GET", "/Parents/ServiceHours") == 3
    assert site_status(env.site).outbox["failed"] == 1
    assert "503" in (site_status(env.site).last_error.error)  # type: ignore[union-attr]


async def test_a_body_facts_refuses_fails_at_once_with_the_reason(tmp_path: Path) -> None:
    env = make_env(tmp_path, accounts=2)
    approved_entries(env, 2)
    Account.update(person_id=999_999_999).where(Account.id == env.accounts[0].id).execute()
    sb = make_sandbox()
    report = await drain(env, sb.transport())
    assert report.failed == 1 and report.created == 1
    failed = Outbox.get(Outbox.state == "failed")
    assert "Person 999999999 does not exist" in (failed.last_error or "")
    assert failed.attempts == 1 and not failed.outcome_unknown


async def test_retry_after_is_honored_without_failures(tmp_path: Path) -> None:
    env = make_env(tmp_path, accounts=3)
    approved_entries(env, 12)
    sb = make_sandbox()
    sb.config.rate_limits = True
    sb.limiter.plan = Plan("pro", per_second=5, per_minute=1000, daily=10_000)
    started = time.monotonic()
    report = await drain(env, sb.transport())  # the client believes it may send far faster
    assert sb.count(status=429) >= 1 and report.failed == 0
    assert time.monotonic() - started >= 1.0  # it waited Retry-After instead of hammering
    assert_exactly_once(sb, env)


async def test_sends_in_parallel_up_to_the_bound(tmp_path: Path) -> None:
    env = make_env(tmp_path, accounts=10)
    approved_entries(env, 24)
    sb = make_sandbox(latency_ms=60)
    await drain(env, sb.transport(), parallel=4)
    # a request's recorded duration includes a few ms spent before the sandbox stamped it
    posts = [(r.started_at, r.started_at + r.duration_s - 0.01) for r in sb.requests
             if r.method == "POST"]
    peak = max(sum(1 for s, e in posts if s <= t < e) for t, _ in posts)
    assert 2 <= peak <= 4


async def test_claims_of_dead_local_processes_are_released_live_ones_respected(
    tmp_path: Path,
) -> None:
    env = make_env(tmp_path, accounts=2)
    a, b = approved_entries(env, 2)
    host = _machine()
    until = dt.datetime(2999, 1, 1)
    Outbox.update(claimed_by=f"{host}:{2**22 + 12345}:dead:1", claimed_until=until).where(
        Outbox.entry == a.id
    ).execute()
    Outbox.update(claimed_by=f"{host}:{os.getppid()}:alive:1", claimed_until=until).where(
        Outbox.entry == b.id
    ).execute()
    sb = make_sandbox()
    report = await drain(env, sb.transport())
    assert report.created == 1
    assert Outbox.get(Outbox.entry == a.id).state == "sent"
    assert Outbox.get(Outbox.entry == b.id).state == "pending"


async def test_two_workers_in_one_process_split_the_queue(tmp_path: Path) -> None:
    env = make_env(tmp_path, accounts=10)
    approved_entries(env, 100)
    sb = make_sandbox(latency_ms=5)
    async with make_client(sb.transport()) as c1, make_client(sb.transport()) as c2:
        r1, r2 = await asyncio.gather(
            worker(env, c1, batch_size=10).drain(), worker(env, c2, batch_size=10).drain()
        )
    assert r1.created + r2.created == 100 and r1.created and r2.created
    assert sb.count("POST") == 100
    assert_exactly_once(sb, env)


def test_unlinked_and_unapproved_entries_are_never_sent(tmp_path: Path) -> None:
    env = make_env(tmp_path, accounts=2)
    hrs.add_entry(env.site, email="user0@example.org", day="2024-10-01", hours=1,
                  description="pending")
    Account.update(person_id=None).where(Account.id == env.accounts[1].id).execute()
    hrs.add_entry(env.site, email="user1@example.org", day="2024-10-01", hours=1,
                  description="unlinked", approved_by="x")
    assert Outbox.select().count() == 0
    assert HourEntry.select().count() == 2


async def test_daily_quota_stops_the_run_and_keeps_entries_queued(tmp_path: Path) -> None:
    env = make_env(tmp_path, accounts=3)
    approved_entries(env, 6)
    sb = make_sandbox()
    sb.config.rate_limits = True
    sb.limiter.plan = Plan("basic", per_second=100, per_minute=1000, daily=4)
    report = await drain(env, sb.transport())  # one look-up, then three POSTs fit the quota
    assert report.disabled and "quota" in report.disabled
    assert report.failed == 0
    assert len(sb.service_hours("parents")) == 3
    assert Outbox.select().where(Outbox.state == "failed").count() == 0
    # the quota renews: the rest goes, and the three already written are not written again
    sb.limiter.plan = Plan("basic", per_second=100, per_minute=1000, daily=1000)
    sb.limiter.keys.clear()
    assert Connection.get().quota_until is not None  # kept until the time FACTS gave...
    Connection.update(quota_until=None).execute()  # ...which has now passed
    Outbox.update(next_try_at=dt.datetime(2000, 1, 1)).execute()
    await drain(env, sb.transport())
    assert_exactly_once(sb, env)
