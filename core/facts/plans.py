"""FACTS subscription plans: the rate limits the client keeps under and the sandbox enforces.

Limits are per vendor subscription key, shared by every school that vendor serves (facts-api.md §3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PlanName = Literal["basic", "pro", "enterprise"]


@dataclass(frozen=True)
class Plan:
    name: PlanName
    per_second: int
    per_minute: int
    daily: int


PLANS: dict[str, Plan] = {
    "basic": Plan("basic", per_second=10, per_minute=10, daily=10_000),
    "pro": Plan("pro", per_second=10, per_minute=100, daily=100_000),
    "enterprise": Plan("enterprise", per_second=10, per_minute=600, daily=1_000_000),
}

SANDBOX_SUBSCRIPTION_KEY = "sandbox-subscription-key"
"""The vendor key the sandbox accepts by default; it is labelled as a sandbox key wherever shown."""

SANDBOX_API_KEY = "SandboxKey"
"""FACTS's own name for its sample tenant's key; the sandbox accepts it by default."""
