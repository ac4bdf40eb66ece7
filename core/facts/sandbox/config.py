"""Settings of a sandbox FACTS SIS: keys and scopes, plan, latency, cache, faults.

Plain dataclasses so tests, the demo and the CLI build them in one line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.facts.plans import SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY, Plan

DEFAULT_BASE_URL = "https://api.factsmgt.com"
DOMAINS = ("People", "Academics")
SCOPES = ("None", "Read", "Write")


@dataclass
class Faults:
    """Fractions (0..1) of requests that fail on purpose, drawn from a seeded RNG.

    ``drop_before``: the connection closes before the handler runs (nothing happened).
    ``drop_after_commit``: the handler runs (a POST commits its row) and then the connection
    closes, so the client cannot know it succeeded. ``slow`` adds ``slow_s`` seconds.
    """

    p500: float = 0.0
    p429: float = 0.0
    drop_before: float = 0.0
    drop_after_commit: float = 0.0
    slow: float = 0.0
    seed: int = 1
    slow_s: float = 2.0


def _default_api_keys() -> dict[str, dict[str, str]]:
    return {SANDBOX_API_KEY: {"People": "Write", "Academics": "Read"}}


@dataclass
class SandboxConfig:
    """How the sandbox behaves; defaults are the demo's: Pro plan, no latency, no faults.

    ``api_keys`` maps a Facts-Api-Key to its scope per domain (``None``/``Read``/``Write``); a
    domain left out is ``None``. ``hours_file`` keeps written service hours across restarts.
    """

    plan: str | Plan = "pro"
    """A name in ``PLANS``, or a custom :class:`Plan` (tests use tiny quotas)."""
    latency_ms: float = 0.0
    subscription_keys: list[str] = field(default_factory=lambda: [SANDBOX_SUBSCRIPTION_KEY])
    api_keys: dict[str, dict[str, str]] = field(default_factory=_default_api_keys)
    faults: Faults = field(default_factory=Faults)
    cache: bool = False
    hours_file: str | None = None
    base_url: str = DEFAULT_BASE_URL
    rate_limits: bool = True
    cache_ttl_s: float = 120.0
    default_page_size: int = 100
