"""Helpers for the hours and write-back tests: a store with a linked site, a sandbox, a client.

Sites and accounts are made straight with the store models (not through sync), so these tests
depend only on the store, the sandbox and the client.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import httpx

from core.connection import save_connection
from core.facts.client import FactsClient
from core.facts.plans import SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY, Plan
from core.facts.sandbox import Faults, Sandbox, SandboxConfig, School, generate_school
from core.writeback.worker import WorkerConfig, WriteBackWorker
from store import Store, open_store
from store.models import Account, Connection, HourEntry, Outbox, Site

FAST = Plan("enterprise", per_second=100_000, per_minute=10_000_000, daily=100_000_000)
"""A plan no test waits on: the sandbox runs with rate_limits off and the client agrees."""
BASE_URL = "https://api.factsmgt.com"


@cache
def school() -> School:
    return generate_school(families=40, seed=3)


def person_ids() -> list[int]:
    return [int(p["personId"]) for p in school().people]


def make_sandbox(
    *,
    people: str = "Write",
    faults: Faults | None = None,
    latency_ms: float = 0.0,
    hours_file: str | None = None,
) -> Sandbox:
    return Sandbox(
        school(),
        SandboxConfig(
            plan=FAST,
            latency_ms=latency_ms,
            api_keys={SANDBOX_API_KEY: {"People": people, "Academics": "Read"}},
            faults=faults or Faults(),
            rate_limits=False,
            hours_file=hours_file,
            cache=True,  # as FACTS: every read-back and look-up must bypass the 120 s cache
        ),
    )


def make_client(
    transport: httpx.AsyncBaseTransport | None = None, base_url: str = BASE_URL
) -> FactsClient:
    return FactsClient(
        base_url,
        SANDBOX_SUBSCRIPTION_KEY,
        SANDBOX_API_KEY,
        plan=FAST,
        transport=transport,
        backoff_base=0.01,
        backoff_cap=0.05,
    )


FAST_WORKER = WorkerConfig(backoff_base_s=0.01, backoff_cap_s=0.05, poll_s=0.1, lease_s=30.0)


@dataclass
class Env:
    store: Store
    site: Site
    accounts: list[Account]


def make_env(
    tmp_path: Path,
    *,
    kind: str = "parents",
    accounts: int = 10,
    linked: bool = True,
    write: bool | None = True,
    name: str = "Lincoln PTA",
) -> Env:
    store = open_store(tmp_path / "s.db")
    site: Site = Site.create(name=name, plan="advanced", kind=kind)
    save_connection(
        store,
        site,
        base_url=BASE_URL,
        api_key=SANDBOX_API_KEY,
        subscription_key=SANDBOX_SUBSCRIPTION_KEY,
        plan="enterprise",
    )
    Connection.update(people_read=True, people_write=write, academics_read=True).execute()
    hour_sync_on(site)
    made = []
    for i, pid in enumerate(person_ids()[:accounts]):
        email = f"user{i}@example.org"
        made.append(
            Account.create(
                site=site,
                email=email,
                email_key=email,
                first_name=f"First{i}",
                last_name=f"Last{i}",
                person_id=pid if linked else None,
                origin="sis" if linked else "manual",
            )
        )
    return Env(store, site, made)


def hour_sync_on(site: Site) -> None:
    """The site sends hours to FACTS (new sites start with hour syncing off)."""
    if hasattr(Site, "hour_sync"):
        Site.update(hour_sync=True).where(Site.id == site.id).execute()
        site.hour_sync = True


def approved_entries(env: Env, count: int, *, start: dt.date | None = None) -> list[HourEntry]:
    """``count`` approved entries spread over the env's accounts, enqueued like an approval."""
    from core.writeback.outbox import enqueue_for_accounts

    start = start or dt.date(2024, 9, 1)
    rows = [
        {
            "account": env.accounts[i % len(env.accounts)].id,
            "date": start + dt.timedelta(days=i % 200),
            "hours": 0.25 * (1 + i % 16),
            "description": f"Library shift {i}",
            "status": "approved",
            "approved_by": "Ms. Admin",
            "approved_at": dt.datetime(2024, 10, 1),
        }
        for i in range(count)
    ]
    with env.store.db.atomic():
        for i in range(0, len(rows), 200):
            HourEntry.insert_many(rows[i : i + 200]).execute()
        enqueue_for_accounts(env.site, [a.id for a in env.accounts])
    return list(HourEntry.select().order_by(HourEntry.id))


def worker(env: Env, client: FactsClient, **overrides: Any) -> WriteBackWorker:
    config = WorkerConfig(**{**FAST_WORKER.__dict__, **overrides})
    return WriteBackWorker(env.store, env.site, client, config=config)


def facts_rows(sb: Sandbox, kind: str = "parents") -> list[dict[str, Any]]:
    return sb.service_hours(kind)


def assert_exactly_once(sb: Sandbox, env: Env, kind: str = "parents") -> None:
    """One FACTS row per approved entry with the entry's person, date and hours; ids recorded."""
    rows = sb.service_hours(kind)
    refs = Counter(str(r["note"]).split()[0] for r in rows)
    dupes = {ref: n for ref, n in refs.items() if n > 1}
    assert not dupes, f"duplicates in FACTS: {dupes}"
    by_ref = {str(r["note"]).split()[0]: r for r in rows}
    entries = list(
        HourEntry.select(HourEntry, Account).join(Account).where(HourEntry.status == "approved")
    )
    assert len(rows) == len(entries)
    outbox = {o.entry_id: o for o in Outbox.select()}
    for e in entries:
        ref = f"factsync:{env.site.id}:{e.id}"
        row = by_ref[ref]
        assert row["personId"] == e.account.person_id
        assert row["date"] == f"{e.date.isoformat()}T00:00:00Z"
        assert abs(row["hours"] - e.hours) < 1e-9
        ob = outbox[e.id]
        assert ob.state == "sent", (ob.state, ob.last_error)
        assert ob.service_hours_id == row["serviceHoursId"]
