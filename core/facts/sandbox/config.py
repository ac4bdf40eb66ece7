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
    ``gateway_html``: a proxy's HTML 502/503/504 page instead of FACTS's answer.
    ``bad_records``: a fraction of the rows of each table made unreadable when the sandbox starts,
    each in one of the ways ``core.facts.sandbox.badrecords`` documents.
    """

    p500: float = 0.0
    p429: float = 0.0
    drop_before: float = 0.0
    drop_after_commit: float = 0.0
    slow: float = 0.0
    seed: int = 1
    slow_s: float = 2.0
    gateway_html: float = 0.0
    bad_records: float = 0.0


def _default_api_keys() -> dict[str, dict[str, str]]:
    return {SANDBOX_API_KEY: {"People": "Write", "Academics": "Read"}}


@dataclass
class SandboxConfig:
    """How the sandbox behaves; defaults are as hard as FACTS: Pro plan, the 120 s response cache
    on, 500s with a .NET stack trace as text; no latency, no faults.

    ``api_keys`` maps a Facts-Api-Key to its scope per domain (``None``/``Read``/``Write``); a
    domain left out is ``None``. ``hours_file`` keeps written service hours across restarts.
    """

    plan: str | Plan = "pro"
    """A name in ``PLANS``, or a custom :class:`Plan` (tests use tiny quotas)."""
    latency_ms: float = 0.0
    subscription_keys: list[str] = field(default_factory=lambda: [SANDBOX_SUBSCRIPTION_KEY])
    api_keys: dict[str, dict[str, str]] = field(default_factory=_default_api_keys)
    faults: Faults = field(default_factory=Faults)
    cache: bool = True
    """FACTS caches GET responses up to 120 s: a read-back without ``x-bypass-cache`` is stale."""
    hours_file: str | None = None
    base_url: str = DEFAULT_BASE_URL
    rate_limits: bool = True
    cache_ttl_s: float = 120.0
    default_page_size: int = 100
    error_body: str = "stack-trace"
    """``stack-trace`` (live FACTS's 500 body) or ``problem`` (a clean ProblemDetails)."""
