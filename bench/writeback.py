"""Benchmark: write 1,000 approved hour entries back to a loopback sandbox FACTS SIS.

Enterprise plan (10/s, 600/min), 40 ms added latency, the sandbox's rate limits on. Prints requests
per written entry, the achieved request rate against the plan's per-minute limit, 429s received
and wall time. Targets: at most 1.1 requests per entry, at least 90% of the per-minute limit
sustained, zero 429s. Exits 1 when a target is missed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.facts.client import FactsClient  # noqa: E402
from core.facts.plans import PLANS, SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY  # noqa: E402
from core.facts.sandbox import Sandbox, SandboxConfig, generate_school, serve_in_thread  # noqa: E402
from core.writeback.outbox import enqueue_for_accounts  # noqa: E402
from core.writeback.worker import WriteBackWorker  # noqa: E402
from store import open_store  # noqa: E402
from store.models import Account, Connection, HourEntry, Outbox, Site  # noqa: E402

ENTRIES = 1000
ACCOUNTS = 300
LATENCY_MS = 40
PLAN = PLANS["enterprise"]
MAX_REQUESTS_PER_ENTRY = 1.1
MIN_SHARE_OF_LIMIT = 0.90


def seed_store(db_path: Path, base_url: str, person_ids: list[int]) -> Site:
    open_store(db_path)
    site: Site = Site.create(name="Bench", plan="advanced", kind="parents")
    Connection.create(site=site, base_url=base_url, plan="enterprise", people_read=True,
                      people_write=True, academics_read=True)
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
        for i in range(ENTRIES)
    ]
    with Site._meta.database.atomic():
        for i in range(0, len(rows), 250):
            HourEntry.insert_many(rows[i : i + 250]).execute()
        enqueue_for_accounts(site, [a.id for a in accounts])
    return site


async def run(base_url: str, db_path: Path, site: Site) -> tuple[float, int]:
    store = open_store(db_path)
    async with FactsClient(base_url, SANDBOX_SUBSCRIPTION_KEY, SANDBOX_API_KEY,
                           plan="enterprise") as client:
        worker = WriteBackWorker(store, site, client)
        started = time.perf_counter()
        report = await worker.drain()
        elapsed = time.perf_counter() - started
    print(f"worker: created {report.created}, adopted {report.adopted}, failed {report.failed}, "
          f"still queued {report.retrying}")
    return elapsed, report.requests


def main() -> int:
    school = generate_school(families=300, seed=7)
    person_ids = [int(p["personId"]) for p in school.people]
    sandbox = Sandbox(school, SandboxConfig(
        plan="enterprise", latency_ms=LATENCY_MS,
        api_keys={SANDBOX_API_KEY: {"People": "Write", "Academics": "Read"}},
    ))
    with tempfile.TemporaryDirectory() as tmp, serve_in_thread(sandbox, port=0) as server:
        db_path = Path(tmp) / "bench.db"
        site = seed_store(db_path, server.base_url, person_ids)
        elapsed, requests = asyncio.run(run(server.base_url, db_path, site))
        sent = Outbox.select().where(Outbox.state == "sent").count()
    rows = sandbox.service_hours("parents")
    dupes = sum(n - 1 for n in Counter(r["note"].split()[0] for r in rows).values() if n > 1)
    seen = sandbox.requests
    first = min(r.started_at for r in seen)
    last = max(r.started_at for r in seen)
    span = max(last - first, 1e-9)
    per_minute = (len(seen) - 1) / span * 60.0
    overall = len(seen) / elapsed * 60.0
    share = per_minute / PLAN.per_minute
    per_entry = requests / max(sent, 1)
    too_many = sandbox.count(status=429)
    by_kind = Counter(f"{r.method} {r.status}" for r in seen)
    print(f"entries: {ENTRIES} approved, {sent} sent, {len(rows)} rows in FACTS, {dupes} duplicates")
    print(f"requests: {requests} ({per_entry:.3f} per written entry); sandbox saw "
          + ", ".join(f"{k}: {v}" for k, v in sorted(by_kind.items())))
    print(f"rate: {per_minute:.0f} requests/min sustained (first to last request), "
          f"{overall:.0f}/min over the whole run; plan limit {PLAN.per_minute}/min "
          f"-> {share:.1%} of the limit")
    print(f"429s received: {too_many}")
    print(f"wall time: {elapsed:.1f} s")
    ok = (
        per_entry <= MAX_REQUESTS_PER_ENTRY
        and share >= MIN_SHARE_OF_LIMIT
        and too_many == 0
        and sent == ENTRIES
        and dupes == 0
        and len(rows) == ENTRIES
    )
    print("OK" if ok else "MISSED a target")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
