"""factsync's engine: headless, no Textual or Rich (tests/test_import_hygiene.py checks).

httpx's package ``__init__`` imports its optional command-line client (``httpx._main``), which
imports Rich whenever Rich is installed (Textual brings it). The engine never uses that CLI, so the
import is made to fail and httpx falls back to its stub ``main``.
"""

import sys

sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
