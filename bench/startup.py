"""Benchmark: cold start of the CLI, whole process, against a Python that imports what it needs.

The baseline is a process of the same interpreter that only imports click, peewee and sqlite3
(what ``status`` needs). Targets: ``factsync --help`` and ``factsync status SITE --json`` each at
most 2x the baseline, measured in the same run (best of ``--repeat`` runs, after one warm-up run
that writes the bytecode caches).

    .venv/bin/python bench/startup.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.support import Verdicts  # noqa: E402

LIMIT = 2.0
ROOT = Path(__file__).resolve().parent.parent


def factsync() -> list[str]:
    """The installed ``factsync`` script beside this interpreter, else the same entry point."""
    script = Path(sys.executable).with_name("factsync")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from core.cli import main; sys.exit(main())"]


def wall(argv: list[str], repeat: int, env: dict[str, str]) -> float:
    subprocess.run(argv, check=True, capture_output=True, env=env, cwd=ROOT)  # warm-up
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env, cwd=ROOT)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACTSYNC_")}
    verdicts = Verdicts()
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "startup.db")
        subprocess.run([*factsync(), "site", "add", "Lincoln", "--db", db], check=True,
                       capture_output=True, env=env, cwd=ROOT)
        base = wall([sys.executable, "-c", "import click, peewee, sqlite3"], args.repeat, env)
        print(f"baseline (python -c 'import click, peewee, sqlite3'): {base:.3f} s")
        for label, argv in (
            ("factsync --help", ["--help"]),
            ("factsync status SITE --json", ["status", "Lincoln", "--json", "--db", db]),
        ):
            took = wall([*factsync(), *argv], args.repeat, env)
            verdicts.ratio(f"{label}: process / baseline", took, base, LIMIT)
    return verdicts.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())
