"""Benchmark: write approved hour entries back to a loopback sandbox FACTS SIS at several latencies.

Enterprise plan (10/s, 600/min), the sandbox's rate limits on, 40 ms, 400 ms and 800 ms of added
latency (``--latency 40,400,800``). For each latency prints requests per written entry, the
sustained request rate as a share of the plan's limit (the baseline: what the plan allows in the
same span), 429s received, the most requests in flight, and wall time. Targets (issue 9 §6): at
most 1.1 requests per entry, at least 97% of the plan's rate, zero 429s. Exits 1 when a target is
missed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.connection import open_client, save_connection  # noqa: E402
from core.facts.plans import PLANS, SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY  # noqa: E402
from core.facts.sandbox import Sandbox, SandboxConfig, generate_school, serve_in_thread  # noqa: E402
from core.writeback.outbox import enqueue_for_accounts  # noqa: E402
from core.writeback.worker import WriteBackWorker  # noqa: E402
from store import Store, open_store  # noqa: E402
from store.models import Account, Connection, HourEntry, Outbox, Site  # noqa: E402

ACCOUNTS = 300
PLAN = PLANS["enterprise"]
MAX_REQUESTS_PER_ENTRY = 1.1
MIN_SHARE_OF_LIMIT = 0.97


def seed_store(db_path: Path, base_url: str, person_ids: list[int], entries: int) -> Store:
    store = open_store(db_path)
    site: Site = Site.create(name="Bench", plan="advanced", kind="parents")
    save_connection(store, site, base_url=base_url, api_key=SANDBOX_API_KEY,
                    subscription_key=SANDBOX_SUBSCRIPTION_KEY, plan="enterprise")
    Connection.update(people_read=True, people_write=True, academics_read=True).execute()
    accounts = [
        Account.create(site=site, email=f"p{i}@example.org", email_key=f"p{i}@example.org",
                       person_id=pid, origin="sis")
        for i, pid in enumerate(person_ids[:ACCOUNTS])
    ]
    rows = [
        {"account": accounts[i % len(accounts)].id,
         "date": dt.date(2024, 9, 1) + dt.timedelta(days=i % 250),
         "hours": 0.5 + (i % 8) * 0.5, "description": f"Volunteer shift {i}",
         "status": "approved", "approved_by": "Bench Admin"}
        for i in range(entries)
    ]
    with store.db.atomic():
        for i in range(0, len(rows), 250):
            HourEntry.insert_many(rows[i : i + 250]).execute()
        if hasattr(Site, "hour_sync"):
            Site.update(hour_sync=True).where(Site.id == site.id).execute()
        enqueue_for_accounts(Site.get_by_id(site.id), [a.id for a in accounts])
    return store


async def drain(store: Store) -> tuple[float, int, str]:
    site = Site.get(Site.name == "Bench")
    async with open_client(store, site) as client:
        worker = WriteBackWorker(store, site, client)
        started = time.perf_counter()
        report = await worker.drain()
        elapsed = time.perf_counter() - started
    line = (f"created {report.created}, adopted {report.adopted}, failed {report.failed}, "
            f"still queued {report.retrying}")
    return elapsed, report.requests, line


def peak_in_flight(sandbox: Sandbox) -> int:
    edges = sorted(
        (t, d)
        for r in sandbox.requests
        for t, d in ((r.started_at, 1), (r.started_at + r.duration_s, -1))
    )
    now = peak = 0
    for _, d in edges:
        now += d
        peak = max(peak, now)
    return peak


def bench(latency_ms: int, entries: int) -> bool:
    school = generate_school(families=300, seed=7)
    person_ids = [int(p["personId"]) for p in school.people]
    sandbox = Sandbox(school, SandboxConfig(
        plan="enterprise", latency_ms=latency_ms, cache=True,
        api_keys={SANDBOX_API_KEY: {"People": "Write", "Academics": "Read"}},
    ))
    with tempfile.TemporaryDirectory() as tmp, serve_in_thread(sandbox, port=0) as server:
        store = seed_store(Path(tmp) / "bench.db", server.base_url, person_ids, entries)
        elapsed, requests, line = asyncio.run(drain(store))
        sent = Outbox.select().where(Outbox.state == "sent").count()
        store.close()
    rows = sandbox.service_hours("parents")
    dupes = sum(n - 1 for n in Counter(r["note"].split()[0] for r in rows).values() if n > 1)
    seen = sandbox.requests
    first = min(r.started_at for r in seen)
    last = max(r.started_at for r in seen)
    span = max(last - first, 1e-9)
    per_minute = (len(seen) - 1) / span * 60.0
    share = per_minute / PLAN.per_minute
    per_entry = requests / max(sent, 1)
    too_many = sandbox.count(status=429)
    by_kind = Counter(f"{r.method} {r.status}" for r in seen)
    print(f"--- latency {latency_ms} ms, {entries} entries")
    print(f"worker: {line}")
    print(f"entries: {sent} sent, {len(rows)} rows in FACTS, {dupes} duplicates")
    print(f"requests: {requests} ({per_entry:.3f} per written entry); sandbox saw "
          + ", ".join(f"{k}: {v}" for k, v in sorted(by_kind.items())))
    print(f"rate: {per_minute:.0f} requests/min sustained (first to last request); the plan "
          f"allows {PLAN.per_minute}/min -> {share:.1%} of the plan")
    print(f"in flight: at most {peak_in_flight(sandbox)}")
    print(f"429s received: {too_many}")
    print(f"wall time: {elapsed:.1f} s")
    ok = (
        per_entry <= MAX_REQUESTS_PER_ENTRY
        and share >= MIN_SHARE_OF_LIMIT
        and too_many == 0
        and sent == entries
        and dupes == 0
        and len(rows) == entries
    )
    print("OK" if ok else "MISSED a target")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", default="40,400,800", help="added latencies in ms")
    parser.add_argument("--entries", type=int, default=1000)
    args = parser.parse_args()
    results = [bench(int(ms), args.entries) for ms in args.latency.split(",")]
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
