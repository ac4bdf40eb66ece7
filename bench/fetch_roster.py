"""Benchmark: roster a 2,000-family school's parents over loopback HTTP (Pro plan, 40 ms latency).

Fetches every student (every status, with their people), their parent links, the parents' people
and the family rows, i.e. ``fetch_roster(client, "parents")``. Target: at most 20 requests and
under 6 s of wall time. Exits 1 when a target is missed.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.facts.client import FactsClient  # noqa: E402
from core.facts.fetch import fetch_roster  # noqa: E402
from core.facts.plans import SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY  # noqa: E402
from core.facts.sandbox import Sandbox, SandboxConfig, generate_school, serve_in_thread  # noqa: E402

FAMILIES = 2000
LATENCY_MS = 40
MAX_REQUESTS = 20
MAX_SECONDS = 6.0


async def run(base_url: str) -> tuple[int, float, int, int, int]:
    async with FactsClient(
        base_url, SANDBOX_SUBSCRIPTION_KEY, SANDBOX_API_KEY, plan="pro"
    ) as client:
        started = time.perf_counter()
        roster = await fetch_roster(client, "parents")
        elapsed = time.perf_counter() - started
        enrolled = sum(1 for s in roster.students if s.school and s.school.status == "Enrolled")
        return roster.requests, elapsed, client.stats.records, enrolled, len(roster.people)


def main() -> int:
    school = generate_school(families=FAMILIES, seed=7)
    sandbox = Sandbox(
        school,
        SandboxConfig(
            plan="pro",
            latency_ms=LATENCY_MS,
            api_keys={SANDBOX_API_KEY: {"People": "Write", "Academics": "Read"}},
        ),
    )
    with serve_in_thread(sandbox, port=0) as server:
        requests, elapsed, records, enrolled, people = asyncio.run(run(server.base_url))
    print(f"school: {FAMILIES} families, {len(school.students)} students ({enrolled} enrolled)")
    print(
        f"requests: {requests} (sandbox saw {sandbox.count()}, 429s: {sandbox.count(status=429)})"
    )
    print(f"wall time: {elapsed:.2f} s")
    print(f"records: {records} rows received, {people} people in the roster")
    for r in sandbox.requests:
        print(f"  {r.method} {r.path} page={r.query.get('Page')} {r.status} {r.duration_s:.3f}s")
    ok = requests <= MAX_REQUESTS and elapsed < MAX_SECONDS and sandbox.count(status=429) == 0
    print("OK" if ok else f"MISSED: target <= {MAX_REQUESTS} requests, < {MAX_SECONDS} s")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
