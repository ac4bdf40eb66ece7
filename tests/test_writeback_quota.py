"""A 10,000-entry backfill on the Basic plan stops at the daily quota and resumes when it renews.

Basic allows 10 requests a minute and 10,000 a day: the backfill needs ~10,100 requests, so it
runs ~17 hours and meets the quota before the last entries are sent. One fake clock drives the
sandbox (its windows and its day), the client's limiter and the worker, so the day passes in
seconds; ``status`` says when write-back resumes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from pathlib import Path

from click.testing import CliRunner

from core import hours as hrs
from core.cli import cli
from core.facts.client import FactsClient
from core.facts.plans import PLANS, SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY
from core.facts.ratelimit import RateLimiter
from core.facts.sandbox import Sandbox, SandboxConfig
from core.writeback.status import site_status
from core.writeback.worker import WorkerConfig, WriteBackWorker
from store.models import Account, HourEntry, Outbox
from tests.test_writeback_support import BASE_URL, assert_exactly_once, make_env, school

ENTRIES = 10_000
DAY = 86_400


class FakeClock:
    """Epoch seconds; sleeping moves time on at once (after letting sent requests land)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def utc(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.now, dt.UTC).replace(tzinfo=None)

    async def sleep(self, seconds: float) -> None:
        for _ in range(20):
            await asyncio.sleep(0)
        self.now += max(seconds, 0.0)


async def run(env: object, sb: Sandbox, clock: FakeClock) -> object:
    limiter = RateLimiter.for_plan(PLANS["basic"], clock=clock, sleep=clock.sleep)
    async with FactsClient(BASE_URL, SANDBOX_SUBSCRIPTION_KEY, SANDBOX_API_KEY, plan="basic",
                           transport=sb.transport(), limiter=limiter) as client:
        w = WriteBackWorker(env.store, env.site, client,  # type: ignore[attr-defined]
                            config=WorkerConfig(batch_size=150, max_wait_s=DAY),
                            now=clock.utc, sleep=clock.sleep)
        return await w.drain()


def test_basic_plan_backfill_of_10000_stops_at_the_quota_and_resumes(tmp_path: Path) -> None:
    env = make_env(tmp_path, accounts=100, linked=False)
    rows = [
        {"account": env.accounts[i % 100].id, "date": dt.date(2024, 9, 1) + dt.timedelta(days=i % 300),
         "hours": 0.5 + (i % 6) * 0.5, "description": f"Shift {i}", "status": "approved",
         "approved_by": "Ms. Admin"}
        for i in range(ENTRIES)
    ]
    with env.store.db.atomic():
        for i in range(0, ENTRIES, 500):
            HourEntry.insert_many(rows[i : i + 500]).execute()
    people = [int(p["personId"]) for p in school().people]
    for account, pid in zip(env.accounts, people, strict=False):  # linked later by a sync
        Account.update(person_id=pid).where(Account.id == account.id).execute()
    candidates = hrs.backfill_candidates(env.site)
    assert len(candidates) == ENTRIES and hrs.backfill(env.site, [c.id for c in candidates]) == ENTRIES
    midnight = math.ceil(dt.datetime.now(dt.UTC).timestamp() / DAY) * DAY
    clock = FakeClock(midnight)  # the backfill starts at 00:00 UTC
    sb = Sandbox(school(), SandboxConfig(plan="basic", cache=True,
                                         api_keys={SANDBOX_API_KEY: {"People": "Write"}}),
                 clock=clock)
    first = asyncio.run(run(env, sb, clock))
    sent = Outbox.select().where(Outbox.state == "sent").count()
    assert first.disabled and "daily call quota" in first.disabled  # type: ignore[attr-defined]
    assert first.failed == 0 and 9_700 < sent < ENTRIES  # type: ignore[attr-defined]
    assert sb.count(status=429) == 0 and sb.count(status=403) >= 1
    assert clock.now - midnight > 16 * 3600  # 10 requests a minute: most of a day
    resumes = dt.datetime.fromtimestamp(midnight + DAY, dt.UTC).replace(tzinfo=None)
    status = site_status(env.site)
    assert status.quota_until is not None and abs((status.quota_until - resumes).total_seconds()) < 5
    out = CliRunner().invoke(cli, ["status", env.site.name, "--db", str(env.store.path)]).output
    assert f"resumes at {resumes:%Y-%m-%d} 00:00 UTC" in out
    # before the quota renews, nothing is even tried
    before = sb.count()
    again = asyncio.run(run(env, sb, clock))
    assert sb.count() == before and again.disabled  # type: ignore[attr-defined]
    clock.now = midnight + DAY + 1  # the quota renews
    last = asyncio.run(run(env, sb, clock))
    assert last.disabled is None and last.created + sent == ENTRIES  # type: ignore[attr-defined]
    assert_exactly_once(sb, env)  # type: ignore[arg-type]
    assert sb.count() <= 1.1 * ENTRIES and sb.count(status=429) == 0
