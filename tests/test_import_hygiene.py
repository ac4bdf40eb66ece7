"""core/ and store/ must never pull in Textual or Rich: the engine runs headless (cron, CLI).

Each module is imported in its own fresh interpreter (a module imported earlier by another could
hide an offender); the interpreters run side by side to keep the test quick.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = (
    "import sys, importlib; importlib.import_module(sys.argv[1]); "
    "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')); "
    "print(','.join(bad)); sys.exit(1 if bad else 0)"
)


def _modules(package: str) -> list[str]:
    names = [package]
    for info in pkgutil.walk_packages([str(ROOT / package)], prefix=package + "."):
        names.append(info.name)
    return names


def test_core_and_store_modules_import_without_textual_or_rich() -> None:
    modules = _modules("core") + _modules("store")
    assert "core.facts.models" in modules and "store.models" in modules
    procs = {
        m: subprocess.Popen(
            [sys.executable, "-c", PROBE, m],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for m in modules
    }
    failures = []
    for module, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        if proc.returncode != 0:
            failures.append(f"{module}: {out.strip() or err.strip().splitlines()[-1:]}")
    assert not failures, "\n".join(failures)
