"""Benchmark: read a parents roster from a sandbox school over loopback HTTP (Pro plan, 40 ms).

``fetch_roster(client, "parents")``: every student (every status, with their people), their parent
links, the parents' people, the family rows. For each school size it prints requests, wall time
and the fetching process's peak RSS; the fetch runs in a spawned child process, so the RSS is
factsync's alone (the sandbox serving the school stays in this process).

Targets on ``--history live`` (the default; ~17 people and ~19 parent links per enrolled
student, as on live tenants): 2,000 families in at most 30 requests and under 8 s; peak RSS at
5,000 families under 300 MB; the 20,000-family figures are printed for the record. The baseline
of the same run is the ``light`` history at 2,000 families (today's volume before live history):
each line shows its wall time as a ratio to it. Exits 1 when a target is missed.

    python bench/fetch_roster.py [--history live|light] [--families N ...]
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import multiprocessing as mp
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.support import peak_rss_mb  # noqa: E402
from core.facts.plans import SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY  # noqa: E402
from core.facts.sandbox import Sandbox, SandboxConfig, generate_school, serve_in_thread  # noqa: E402

LATENCY_MS = 40
SIZES = (2000, 5000, 20000)
TARGET_FAMILIES, MAX_REQUESTS, MAX_SECONDS = 2000, 30, 8.0
RSS_FAMILIES, MAX_RSS_MB = 5000, 300.0


@dataclass
class Figures:
    label: str
    families: int
    rows: int
    requests: int
    wall_s: float
    rss_mb: float
    people: int
    unreadable: int
    served: int = 0
    too_many: int = 0


async def _fetch(base_url: str) -> tuple[int, float, int, int]:
    from core.facts.client import FactsClient
    from core.facts.fetch import fetch_roster

    async with FactsClient(
        base_url, SANDBOX_SUBSCRIPTION_KEY, SANDBOX_API_KEY, plan="pro"
    ) as client:
        started = time.perf_counter()
        roster = await fetch_roster(client, "parents")
        elapsed = time.perf_counter() - started
        unreadable = len(getattr(roster, "unreadable", ()))
        return roster.requests, elapsed, len(roster.people), unreadable


def _child(base_url: str, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    requests, elapsed, people, unreadable = asyncio.run(_fetch(base_url))
    queue.put((requests, elapsed, people, unreadable, peak_rss_mb()))


def _school(families: int, history: str):  # type: ignore[no-untyped-def]
    if "history" in inspect.signature(generate_school).parameters:
        return generate_school(families=families, seed=7, history=history)
    return generate_school(families=families, seed=7)  # before live history existed


def measure(families: int, history: str) -> Figures:
    school = _school(families, history)
    rows = sum(len(rows) for rows in school.to_json().values())
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
    with serve_in_thread(sandbox, port=0) as server:
        proc = ctx.Process(target=_child, args=(server.base_url, queue))
        proc.start()
        requests, wall, people, unreadable, rss = queue.get(timeout=900)
        proc.join()
    return Figures(history, families, rows, requests, wall, rss, people, unreadable,
                   sandbox.count(), sandbox.count(status=429))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--history", choices=("live", "light"), default="live")
    parser.add_argument("--families", type=int, nargs="*", default=list(SIZES))
    args = parser.parse_args()
    print(f"parents roster over loopback HTTP, Pro plan, {LATENCY_MS} ms latency")
    baseline = measure(TARGET_FAMILIES, "light")
    runs = [measure(n, args.history) for n in args.families]
    print(f"{'history':8} {'families':>8} {'rows':>9} {'requests':>8} {'429s':>5} {'wall s':>7}"
          f" {'x base':>7} {'RSS MB':>7} {'people':>8} {'unreadable':>10}")
    ok = True
    for f in (baseline, *runs):
        label = f"{f.label}" + (" (baseline)" if f is baseline else "")
        print(f"{label:8} {f.families:>8} {f.rows:>9} {f.requests:>8} {f.too_many:>5}"
              f" {f.wall_s:>7.2f} {f.wall_s / baseline.wall_s:>7.2f} {f.rss_mb:>7.0f}"
              f" {f.people:>8} {f.unreadable:>10}")
        if f is baseline:
            continue
        ok &= f.too_many == 0
        if f.families == TARGET_FAMILIES:
            ok &= f.requests <= MAX_REQUESTS and f.wall_s < MAX_SECONDS
        if f.families == RSS_FAMILIES:
            ok &= f.rss_mb < MAX_RSS_MB
    print("OK" if ok else f"MISSED: at {TARGET_FAMILIES} families <= {MAX_REQUESTS} requests and "
          f"< {MAX_SECONDS} s; at {RSS_FAMILIES} RSS < {MAX_RSS_MB} MB; no 429s")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
