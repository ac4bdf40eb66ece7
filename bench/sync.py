"""Benchmark: first sync and unchanged re-sync of a 5,000-family school (Pro plan, 40 ms latency).

For a parents site and a students site, over loopback HTTP (``serve_in_thread``), prints:
requests, wall time, time in plan, time in apply, rows written, peak RSS. Targets: at most 40
requests per sync; plan + apply of the first sync under 3 s; an unchanged re-sync writes 0 rows;
peak RSS under 300 MB. The syncs run in a spawned child process, so its peak RSS is factsync's
alone (the sandbox serving the school stays in this process). Exits 1 when a target is missed.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.measure import peak_rss_mb  # noqa: E402
from core.facts.plans import SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY  # noqa: E402
from core.facts.sandbox import Sandbox, SandboxConfig, generate_school, serve_in_thread  # noqa: E402

FAMILIES = 5000
LATENCY_MS = 40
MAX_REQUESTS = 40
MAX_PLAN_APPLY_S = 3.0
MAX_RSS_MB = 300


@dataclass
class Figures:
    label: str
    requests: int
    wall_s: float
    plan_s: float
    apply_s: float
    rows: int
    counts: dict[str, int]


async def _syncs(base_url: str, db: Path) -> list[Figures]:
    from core.connection import save_connection
    from core.sites import add_site
    from core.sync import service
    from store import open_store

    store = open_store(db)
    out: list[Figures] = []
    try:
        for kind in ("parents", "students"):
            site = add_site(store, kind)
            save_connection(store, site, base_url=base_url, api_key=SANDBOX_API_KEY,
                            subscription_key=SANDBOX_SUBSCRIPTION_KEY, plan="pro")
            service.save_setup(store, site, kind=kind)
            for label in ("first sync", "unchanged re-sync"):
                rows_before = store.db.connection().total_changes
                started = time.perf_counter()
                roster = await service.fetch(store, kind)
                t0 = time.perf_counter()
                plan = service.make_plan(store, kind, roster)
                t1 = time.perf_counter()
                if plan.writes:
                    service.apply_plan(store, kind, plan, confirm_archive=True)
                t2 = time.perf_counter()
                out.append(
                    Figures(f"{kind} {label}", roster.requests, t2 - started, t1 - t0, t2 - t1,
                            store.db.connection().total_changes - rows_before, plan.counts())
                )
                del roster, plan  # one roster alive at a time, as in one `factsync sync`
    finally:
        store.close()
    return out


def _child(base_url: str, db: str, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    figures = asyncio.run(_syncs(base_url, Path(db)))
    queue.put((figures, peak_rss_mb()))


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
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory() as tmp, serve_in_thread(sandbox, port=0) as server:
        proc = ctx.Process(target=_child, args=(server.base_url, str(Path(tmp) / "b.db"), queue))
        proc.start()
        figures, peak = queue.get(timeout=600)
        proc.join()
    print(f"school: {FAMILIES} families, {len(school.students)} students, "
          f"{len(school.people)} people; Pro plan, {LATENCY_MS} ms latency, loopback HTTP")
    print(f"{'':28} {'requests':>8} {'wall s':>7} {'plan s':>7} {'apply s':>8} {'rows':>7}  counts")
    ok = True
    for f in figures:
        shown = ", ".join(f"{k} {v}" for k, v in f.counts.items() if v)
        print(f"{f.label:28} {f.requests:>8} {f.wall_s:>7.2f} {f.plan_s:>7.2f} {f.apply_s:>8.2f}"
              f" {f.rows:>7}  {shown}")
        ok &= f.requests <= MAX_REQUESTS
        if "first" in f.label:
            ok &= f.plan_s + f.apply_s < MAX_PLAN_APPLY_S
        else:
            ok &= f.rows == 0
    print(f"sandbox answered {sandbox.count()} requests ({sandbox.count(status=429)} were 429s)")
    print(f"peak RSS of the syncing process: {peak:.0f} MB")
    ok &= peak < MAX_RSS_MB and sandbox.count() == sum(f.requests for f in figures)
    print("OK" if ok else f"MISSED: targets <= {MAX_REQUESTS} requests, plan+apply < "
          f"{MAX_PLAN_APPLY_S} s, 0 rows on re-sync, RSS < {MAX_RSS_MB} MB")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
