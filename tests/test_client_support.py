"""Shared helpers for the FACTS client tests (no tests here): sandboxes, clients, a fake clock."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from core.facts.client import ClientEvent, FactsClient
from core.facts.plans import PLANS, SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY, Plan
from core.facts.ratelimit import RateLimiter
from core.facts.sandbox import Faults, Sandbox, SandboxConfig, generate_school

SUB_KEY = "0123456789abcdef0123456789abcdef"
API_KEY = "QmFzZTY0LWxvb2tpbmcta2V5LXRoYXQtbXVzdC1uZXZlci1sZWFr+/=="
READ_KEY = "read-only-key-9f8e7d6c5b4a"
NONE_KEY = "no-people-key-1a2b3c4d5e6f"
ALL_KEYS = (SUB_KEY, API_KEY, READ_KEY, NONE_KEY, SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY)


class FakeClock:
    """One clock for the sandbox and the client's limiter: sleeping advances it instantly."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        # Let requests already on their way reach the sandbox first: in real time they would
        # arrive long before the sleep ends.
        for _ in range(50):
            await asyncio.sleep(0)
        self.now += seconds
        await asyncio.sleep(0)


def make_sandbox(
    *,
    families: int = 40,
    plan: str | Plan = "enterprise",
    faults: Faults | None = None,
    rate_limits: bool = True,
    clock: FakeClock | None = None,
    latency_ms: float = 0.0,
    page_size: int = 100,
    history: str = "light",
    error_body: str = "stack-trace",
    cache: bool = True,
) -> Sandbox:
    """A sandbox on the generated school; ``history="light"`` unless a test needs live volume."""
    config = SandboxConfig(
        plan=plan,
        latency_ms=latency_ms,
        subscription_keys=[SUB_KEY],
        api_keys={
            API_KEY: {"People": "Write", "Academics": "Read"},
            READ_KEY: {"People": "Read", "Academics": "Read"},
            NONE_KEY: {"Academics": "Read"},
        },
        faults=faults or Faults(),
        rate_limits=rate_limits,
        default_page_size=page_size,
        error_body=error_body,
        cache=cache,
    )
    school = generate_school(families=families, seed=7, history=history)
    return Sandbox(school, config, clock=clock)


def make_client(
    sandbox: Sandbox,
    *,
    api_key: str = API_KEY,
    sub_key: str = SUB_KEY,
    clock: FakeClock | None = None,
    events: list[ClientEvent] | None = None,
    **kwargs: Any,
) -> FactsClient:
    plan = sandbox.config.plan
    limits = PLANS[plan] if isinstance(plan, str) else plan
    limiter = RateLimiter.for_plan(limits, clock=clock, sleep=clock.sleep) if clock else None
    kwargs.setdefault("backoff_base", 0.001)
    return FactsClient(
        sandbox.config.base_url,
        sub_key,
        api_key,
        plan=plan,
        transport=sandbox.transport(),
        limiter=limiter,
        on_event=events.append if events is not None else None,
        **kwargs,
    )


def assert_no_keys(*texts: object) -> None:
    for text in texts:
        for key in ALL_KEYS:
            assert key not in str(text), f"a key leaked into {text!r}"
            assert key not in repr(text), f"a key leaked into {text!r}"
