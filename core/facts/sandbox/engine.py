"""The Sandbox: gateway behaviour (keys, scopes, limits, cache, faults) around the FACTS handler.

``handle()`` decides everything under one lock and never sleeps; the transports and the loopback
server apply the returned delay and connection drop, then call ``finish()`` to record the request.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import httpx

from core.facts.plans import PLANS
from core.facts.sandbox import routes
from core.facts.sandbox.badrecords import spoil
from core.facts.sandbox.config import SandboxConfig
from core.facts.sandbox.handler import Api
from core.facts.sandbox.hours import KINDS, HoursStore
from core.facts.sandbox.messages import (
    ERROR_BODIES,
    Request,
    Response,
    gateway_error,
    gateway_page,
    problem,
    server_error,
)
from core.facts.sandbox.ratelimit import RateLimiter
from core.facts.sandbox.school import Record, School
from core.facts.sandbox.transport import AsyncSandboxTransport, SyncSandboxTransport

log = logging.getLogger(__name__)

FaultName = Literal["p500", "p429", "drop_before", "drop_after_commit", "slow", "gateway_html"]
Drop = Literal["before", "after"]

MISSING_SUBSCRIPTION = (
    "Access denied due to missing subscription key. "
    "Make sure to include subscription key when making requests to an API."
)
INVALID_SUBSCRIPTION = (
    "Access denied due to invalid subscription key. "
    "Make sure to provide a valid key for an active subscription."
)


@dataclass
class RecordedRequest:
    """One request the sandbox saw. ``status`` is 0 when the connection dropped before answering;
    ``fault`` names an injected fault (``p500``, ``p429``, ``drop_before``, ``drop_after_commit``,
    ``slow``); ``cached`` is True when the response came from the response cache."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    duration_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    fault: str | None = None
    cached: bool = False
    body: bytes = b""
    started_at: float = 0.0


@dataclass
class Outcome:
    """What to send back: the response, a delay to apply first, and whether to drop instead."""

    response: Response
    delay_s: float
    drop: Drop | None
    record: RecordedRequest


@dataclass
class _CacheEntry:
    expires: float
    response: Response


class Sandbox:
    """A FACTS SIS tenant in memory. Thread-safe; serve it with ``transport()``,
    ``sync_transport()`` or :func:`core.facts.sandbox.serve_in_thread`."""

    def __init__(
        self,
        school: School,
        config: SandboxConfig | None = None,
        *,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.config = config or SandboxConfig()
        if self.config.error_body not in ERROR_BODIES:
            raise ValueError(f"error_body must be one of {', '.join(ERROR_BODIES)}")
        school, self.spoiled = spoil(school, self.config.faults.bad_records, self.config.faults.seed)
        """(table, row index, way) of each row made unreadable by ``faults.bad_records``."""
        self.school = school
        plan = self.config.plan
        if isinstance(plan, str):
            if plan not in PLANS:
                raise ValueError(f"unknown plan {plan!r}; choose one of {sorted(PLANS)}")
            plan = PLANS[plan]
        self.clock: Callable[[], float] = clock or time.time
        self.lock = threading.RLock()
        self.hours = HoursStore(self.config.hours_file)
        self.api = Api(
            school,
            self.hours,
            lambda: self.clock(),
            self.config.default_page_size,
            self.config.error_body,
        )
        self.limiter = RateLimiter(plan)
        self._rng = random.Random(self.config.faults.seed)
        self._cache: dict[tuple[str, ...], _CacheEntry] = {}
        self._requests: list[RecordedRequest] = []

    # --- the public surface tests and benchmarks use -------------------------------------------

    def transport(self) -> httpx.AsyncBaseTransport:
        """An ``httpx.AsyncBaseTransport`` answering in-process (latency via ``anyio.sleep``)."""
        return AsyncSandboxTransport(self)

    def sync_transport(self) -> httpx.BaseTransport:
        """An ``httpx.BaseTransport`` for sync clients (latency via ``time.sleep``)."""
        return SyncSandboxTransport(self)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self.lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self.lock:
            self._requests.clear()

    def count(
        self,
        method: str | None = None,
        path_prefix: str | None = None,
        status: int | None = None,
    ) -> int:
        """Recorded requests matching all given criteria (path prefix case-insensitive)."""
        prefix = path_prefix.lower() if path_prefix else None
        return sum(
            1
            for r in self.requests
            if (method is None or r.method == method.upper())
            and (prefix is None or r.path.lower().startswith(prefix))
            and (status is None or r.status == status)
        )

    def service_hours(self, kind: str) -> list[Record]:
        """Rows written so far to ``/Students/ServiceHours`` or ``/Parents/ServiceHours``."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        with self.lock:
            return [
                dict(r) for r in self.hours.rows["students" if kind == "students" else "parents"]
            ]

    def records_changed(self) -> None:
        """Call after editing ``sandbox.school`` rows directly: rebuilds indexes and serialized rows."""
        with self.lock:
            self.api.reindex()

    def clear_cache(self) -> None:
        with self.lock:
            self._cache.clear()

    # --- the request pipeline ------------------------------------------------------------------

    def handle(self, req: Request) -> Outcome:
        """Answer ``req`` (no sleeping): faults, keys, route, limits, scope, cache, handler."""
        with self.lock:
            now = self.clock()
            faults = self._draw_faults()
            match = routes.match(req.path)
            record = RecordedRequest(
                method=req.method.upper(),
                path=match.canonical if match else req.path,
                query={k: v for k, v in req.query},
                status=0,
                headers=dict(req.headers),
                body=req.body,
                started_at=now,
            )
            delay = self.config.latency_ms / 1000.0
            if "slow" in faults:
                delay += self.config.faults.slow_s
                record.fault = "slow"
            if "drop_before" in faults:
                record.fault = "drop_before"
                return Outcome(Response(0), delay, "before", record)
            response, handled = self._answer(req, match, faults, record, now)
            record.status = response.status
            drop: Drop | None = None
            if handled and "drop_after_commit" in faults:
                record.fault = "drop_after_commit"
                drop = "after"
            return Outcome(response, delay, drop, record)

    def finish(self, outcome: Outcome, duration_s: float) -> None:
        """Record a request once its answer (or drop) has been delivered."""
        outcome.record.duration_s = duration_s
        with self.lock:
            self._requests.append(outcome.record)

    def _draw_faults(self) -> set[FaultName]:
        f = self.config.faults
        draws: list[tuple[FaultName, float]] = [
            ("drop_before", f.drop_before),
            ("p429", f.p429),
            ("p500", f.p500),
            ("drop_after_commit", f.drop_after_commit),
            ("slow", f.slow),
        ]
        # One draw per kind per request keeps the sequence stable whatever the rates are (kinds
        # added later draw only when used, so older seeds keep their sequences).
        drawn = {name for name, rate in draws if self._rng.random() < rate}
        if f.gateway_html > 0 and self._rng.random() < f.gateway_html:
            drawn.add("gateway_html")
        return drawn

    def _answer(
        self,
        req: Request,
        match: routes.Match | None,
        faults: set[FaultName],
        record: RecordedRequest,
        now: float,
    ) -> tuple[Response, bool]:
        """The response, and whether it got past the gateway to the backend."""
        sub_key = req.headers.get("ocp-apim-subscription-key") or req.param("subscription-key")
        if not sub_key:
            return gateway_error(401, MISSING_SUBSCRIPTION), False
        if sub_key not in self.config.subscription_keys:
            return gateway_error(401, INVALID_SUBSCRIPTION), False
        method = req.method.upper()
        if match is None or method not in match.route.methods:
            return gateway_error(404, "Resource not found"), False
        api_key = req.headers.get("facts-api-key")
        scopes = self.config.api_keys.get(api_key) if api_key else None
        if scopes is None:
            return gateway_error(401, "Invalid Facts-Api-Key"), False
        if self.config.rate_limits:
            refusal = self.limiter.admit(sub_key, now)
            if refusal is not None:
                headers = {"retry-after": str(refusal.retry_after)}
                return gateway_error(refusal.status, refusal.message, headers), False
        domain = match.route.domain
        scope = _scope(scopes, domain)
        if scope == "none":
            detail = f"The API key has no permission for the {domain} domain."
            return problem(403, detail, match.canonical), False
        if scope == "read" and method != "GET":
            detail = (
                f"The API key has Read permission for the {domain} domain; {method} needs Write."
            )
            return problem(403, detail, match.canonical), False
        if "p429" in faults:
            record.fault = "p429"
            message = "Rate limit is exceeded. Try again in 1 seconds."
            return gateway_error(429, message, {"retry-after": "1"}), False
        if "p500" in faults:
            record.fault = "p500"
            detail = "An unexpected error occurred."
            return server_error(detail, match.canonical, self.config.error_body), False
        if "gateway_html" in faults:
            record.fault = "gateway_html"
            return gateway_page((502, 503, 504)[self._rng.randrange(3)]), False
        cache_key: tuple[str, ...] | None = None
        if self.config.cache and method == "GET":
            query = "&".join(f"{k}={v}" for k, v in req.query)
            cache_key = (req.base_url, req.path, query, sub_key, api_key or "")
            entry = self._cache.get(cache_key)
            if entry is not None and entry.expires > now and "x-bypass-cache" not in req.headers:
                record.cached = True
                return entry.response, True
        try:
            response = self.api.dispatch(match, req)
        except Exception:  # a sandbox bug must look like FACTS's 500, not kill the server thread
            log.exception("sandbox handler failed on %s %s", method, req.path)
            detail = "An unexpected error occurred."
            return server_error(detail, match.canonical, self.config.error_body), True
        if cache_key is not None and response.status == 200:
            self._cache[cache_key] = _CacheEntry(now + self.config.cache_ttl_s, response)
        return response, True


def _scope(scopes: dict[str, str], domain: str) -> str:
    for name, value in scopes.items():
        if name.lower() == domain.lower():
            return str(value).strip().lower()
    return "none"
