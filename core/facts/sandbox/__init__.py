"""The sandbox FACTS SIS: a faithful emulator for the demo, the tests and the benchmarks.

One handler, served in-process (``Sandbox.transport()`` / ``sync_transport()``) or over loopback
HTTP (:func:`serve_in_thread`), over a deterministic generated :class:`School`.
"""

from __future__ import annotations

from core.facts.sandbox.config import DEFAULT_BASE_URL, Faults, SandboxConfig
from core.facts.sandbox.engine import RecordedRequest, Sandbox
from core.facts.sandbox.generator import REFERENCE_DATE, generate_school
from core.facts.sandbox.school import School
from core.facts.sandbox.server import LoopbackServer, serve_in_thread

__all__ = [
    "DEFAULT_BASE_URL",
    "REFERENCE_DATE",
    "Faults",
    "LoopbackServer",
    "RecordedRequest",
    "Sandbox",
    "SandboxConfig",
    "School",
    "generate_school",
    "serve_in_thread",
]
