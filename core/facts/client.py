"""Async FACTS SIS client: auth headers, paging, Sieve filters, rate limiting, retries, typed errors.

Everything factsync sends to FACTS goes through ``FactsClient._send``, so the rules live in one
place: stay under the plan's rate, wait out 429s, retry 5xx and dropped connections for reads,
never blindly retry a POST (FACTS has no DELETE), and never let a key reach a message or repr.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Generic, Literal, TypeVar

import httpx
from pydantic import BaseModel

from core.facts import deadline, sieve
from core.facts.errors import (
    FactsError,
    FactsUnreachable,
    InvalidApiKey,
    InvalidSubscriptionKey,
    NotFound,
    OutcomeUnknown,
    PermissionMissing,
    QuotaExhausted,
    RateLimited,
    ReadOnly,
    ServerError,
    UnknownField,
    ValidationFailed,
)
from core.facts.models import StudentServiceHoursModel
from core.facts.plans import PLANS, Plan
from core.facts.ratelimit import LatencyMeter, Ledger, RateLimiter
from core.facts.records import ServiceHoursRead
from core.facts.secrets import key_problem, scrub

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
Kind = Literal["students", "parents"]
Filters = str | Sequence[str] | None
Params = Mapping[str, str | int]
Parser = Callable[[bytes], Any]

MAX_PAGE_SIZE = 6000
"""Largest page factsync asks for: public clients use up to 6000 without a cap."""
MAX_RETRY_AFTER = 120.0
"""A 429 asking for a longer wait than this is reported instead of waited out."""
MAX_RATE_LIMITED_S = 600.0
"""429s on one request are waited out (traffic outside factsync) for this long in all..."""
MAX_RATE_LIMITED_TRIES = 60
"""...and at most this many times."""
SERVICE_HOURS_PATHS: dict[str, str] = {
    "students": "/Students/ServiceHours",
    "parents": "/Parents/ServiceHours",
}
_ACADEMICS_PREFIXES = ("/schoolyears", "/schoolconfigurations", "/academics", "/schools")
_NOT_FOUND_FIELD = re.compile(r"""['"]?([A-Za-z_][\w.]*)['"]?\s+not found\.""")
"""``<name> not found.`` anywhere in a 500's body: live FACTS follows it with a .NET stack trace."""
_NOT_FIELDS = frozenset({"was", "is", "be", "been", "were", "are", "resource"})
_GATEWAY_STATUSES = frozenset({502, 503, 504})
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")
_PARSED = "factsync.parsed_json"
# Raised before a single byte of the request left: safe to retry even for a POST.
_PRE_SEND_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


# --- events and stats ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RateLimitWait:
    """The client is about to sleep ``seconds`` to stay under (or recover from) the rate limit."""

    seconds: float


@dataclass(frozen=True)
class Retry:
    """Attempt ``attempt`` failed for ``reason``; the client retries after ``delay`` seconds."""

    attempt: int
    reason: str
    delay: float = 0.0
    method: str = "GET"
    path: str = ""


@dataclass(frozen=True)
class RequestDone:
    """A request answered (any status); ``records`` counts the rows of a list page."""

    path: str
    status: int
    records: int = 0
    method: str = "GET"
    elapsed: float = 0.0


ClientEvent = RateLimitWait | Retry | RequestDone
EventCallback = Callable[[ClientEvent], None]


@dataclass
class ClientStats:
    """Counters since the client was created (a progress bar and the bench read them)."""

    requests: int = 0
    retries: int = 0
    rate_limit_waits: int = 0
    wait_seconds: float = 0.0
    records: int = 0


@dataclass
class FetchResult(Generic[M]):
    """All rows of a list GET, with FACTS's announced ``rowCount`` to check completeness against."""

    items: list[M] = field(default_factory=list)
    row_count: int = 0
    pages: int = 0


# --- helpers ------------------------------------------------------------------------------------


def _filters(filters: Filters) -> str:
    if filters is None or isinstance(filters, str):
        return filters or ""
    return sieve.join(filters)


def _domain(path: str) -> str:
    return "Academics" if path.lower().startswith(_ACADEMICS_PREFIXES) else "People"


def _retry_after(response: httpx.Response, default: float = 1.0) -> float:
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return default
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def _text_message(text: str) -> str:
    """One short line from a body that is not JSON: an HTML page's title, or the first line of a
    text body (a .NET stack trace's first line is its message)."""
    text = text.strip()
    if text[:1] == "<":
        match = _TITLE.search(text)
        words = " ".join(_TAGS.sub(" ", match.group(1) if match else "").split())
        return f"an HTML page: {words[:120]}" if words else "an HTML page"
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first[:300]


def _unknown_field(text: str) -> str | None:
    """The field a 500 says it does not know (``shoeSize not found.``), wherever it says it."""
    for match in _NOT_FOUND_FIELD.finditer(text):
        if match.group(1).lower() not in _NOT_FIELDS:
            return match.group(1)
    return None


def _body_message(response: httpx.Response) -> str:
    """The human part of any of FACTS's error shapes (gateway, ProblemDetails, controller, or a
    bare stack trace / HTML page)."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return _text_message(response.text)
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        for key in ("message", "detail", "title"):
            if body.get(key):
                return str(body[key])
    return str(body)[:300]


def page_number(value: Any) -> int | None:
    """A paging count of an envelope (``rowCount``, ``pageCount``...), or None if not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


async def gather_all(aws: Iterable[Awaitable[T]]) -> list[T]:
    """``asyncio.gather``, but the first failure cancels the siblings instead of leaving them
    running (and sending requests) after the caller has given up."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def _unbind(response: httpx.Response) -> None:
    """Break httpx's response <-> body-stream reference cycle once the body has been read.

    httpx 0.28 wraps every body in a stream that points back at its response (encode/httpx#3733),
    so a response, its bytes included, is freed only by a full cyclic collection, which a process
    holding a large roster seldom runs: during a live tenant's fetch, 25 MB pages piled up to
    more than 400 MB. ``request()`` has read the body and closed the stream by now; an empty
    stream in its place lets reference counting free the response when it is dropped."""
    response.stream = httpx.ByteStream(b"")


def _ids(values: Iterable[int]) -> list[int]:
    return list(dict.fromkeys(int(v) for v in values))


# --- the client ---------------------------------------------------------------------------------


class FactsClient:
    """One school's FACTS connection. Use as ``async with FactsClient(...) as client``."""

    def __init__(
        self,
        base_url: str,
        subscription_key: str,
        api_key: str,
        *,
        plan: str | Plan = "pro",
        transport: httpx.AsyncBaseTransport | None = None,
        max_retries: int = 5,
        timeout: float | None = None,
        on_event: EventCallback | None = None,
        limiter: RateLimiter | None = None,
        ledger: Ledger | None = None,
        backoff_base: float = 0.5,
        backoff_cap: float = 10.0,
    ) -> None:
        if isinstance(plan, str):
            if plan not in PLANS:
                raise ValueError(f"unknown FACTS plan {plan!r}: choose one of {', '.join(PLANS)}")
            plan = PLANS[plan]
        self.base_url = base_url.rstrip("/")
        self.plan = plan.name
        self.limits = plan
        self.max_retries = max_retries
        self.on_event = on_event
        self.stats = ClientStats()
        self.limiter = limiter or RateLimiter.for_plan(
            plan, ledger=ledger, clock=time.time if ledger is not None else time.monotonic
        )
        self.latency = self.limiter.meter if self.limiter.meter is not None else LatencyMeter()
        """Round-trip times of recent requests: the limiter's margin and callers' in-flight
        counts are sized from it."""
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.timeout = deadline.timeout() if timeout is None else timeout
        """Give up on a FACTS that cannot be reached after this long without an answer."""
        self.unreachable_since: float | None = None
        """``time.monotonic()`` of the first failure to reach FACTS since its last answer."""
        self._secrets = tuple(k for k in (subscription_key, api_key) if k)
        for what, key in (("subscription key", subscription_key), ("school API key", api_key)):
            problem = key_problem(what, key) if key else None
            if problem:
                raise FactsError(f"FACTS cannot be asked: {problem}.")
        self._random = random.Random()
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            transport=transport,
            timeout=httpx.Timeout(self.timeout),
            headers={
                "Ocp-Apim-Subscription-Key": subscription_key,
                "Facts-Api-Key": api_key,
                "Accept": "application/json",
            },
        )

    def __repr__(self) -> str:
        return (
            f"FactsClient(base_url={self.base_url!r}, plan={self.plan!r}, "
            "subscription_key='••••', api_key='••••')"
        )

    __str__ = __repr__

    async def __aenter__(self) -> FactsClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections, and the rate budget's store connection: a client per sync in
        a daemon that runs for months must not leave one open each time."""
        try:
            await self._http.aclose()
        finally:
            self.limiter.ledger.close()

    # --- reads ----------------------------------------------------------------------------------

    async def get_page(
        self,
        path: str,
        *,
        filters: Filters = None,
        sorts: str | None = None,
        page: int = 1,
        page_size: int | None = None,
        bypass_cache: bool = False,
        params: Params | None = None,
        parse: Parser | None = None,
    ) -> dict[str, Any]:
        """One page of a list GET, as FACTS's raw envelope (``results``, ``pageCount``, ...).

        ``parse`` reads the body's bytes instead of ``json.loads`` (the roster fetch keeps only the
        fields it needs); a body it cannot read is retried like a gateway error."""
        query: dict[str, str | int] = dict(params or {})
        if text := _filters(filters):
            query["Filters"] = text
        if sorts:
            query["Sorts"] = sorts
        query["Page"] = page
        if page_size is not None:
            query["PageSize"] = page_size
        response = await self._send(
            "GET", path, params=query, bypass_cache=bypass_cache, parse=parse
        )
        body = response.extensions.get(_PARSED)
        if not isinstance(body, dict) or not isinstance(body.get("results"), list):
            raise ServerError(f"FACTS answered GET {path} without a list of results.")
        for name in ("currentPage", "pageCount", "rowCount"):
            value = body.get(name)
            if value is not None and page_number(value) is None:
                raise ServerError(
                    f"FACTS answered GET {path} with a {name} that is not a number "
                    f"({str(value)[:40]!r})."
                )
        return body

    async def get_all(
        self,
        path: str,
        model: type[M],
        *,
        filters: Filters = None,
        sorts: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
        bypass_cache: bool = False,
        params: Params | None = None,
    ) -> FetchResult[M]:
        """Every page of a list GET; pages after the first are fetched concurrently."""

        async def page(n: int) -> dict[str, Any]:
            return await self.get_page(
                path,
                filters=filters,
                sorts=sorts,
                page=n,
                page_size=page_size,
                bypass_cache=bypass_cache,
                params=params,
            )

        first = await page(1)
        bodies = [first]
        page_count = page_number(first.get("pageCount")) or 0
        if first["results"] and (page_number(first.get("currentPage")) or 1) < page_count:
            bodies += await gather_all(page(n) for n in range(2, page_count + 1))
        items: list[M] = []
        pages = 0
        for body in bodies:
            pages += 1
            if not body["results"]:
                break
            items.extend(model.model_validate(row) for row in body["results"])
        return FetchResult(items, page_number(first.get("rowCount")) or 0, pages)

    async def get_by_ids(
        self,
        path: str,
        model: type[M],
        field: str,
        ids: Iterable[int],
        *,
        extra_filters: Filters = None,
        batch_size: int = sieve.MAX_IDS_PER_FILTER,
        bypass_cache: bool = False,
        params: Params | None = None,
    ) -> list[M]:
        """Rows whose ``field`` is one of ``ids``, as ``field==1|2|3`` batches run concurrently."""
        extra = _filters(extra_filters)
        batches = sieve.id_filters(field, _ids(ids), batch_size)
        results = await gather_all(
            self.get_all(
                path,
                model,
                filters=sieve.join(term, extra),
                bypass_cache=bypass_cache,
                params=params,
            )
            for term in batches
        )
        return [item for result in results for item in result.items]

    # --- writes ---------------------------------------------------------------------------------

    async def post(self, path: str, body: Mapping[str, Any]) -> httpx.Response:
        """POST once: a dropped connection or 5xx raises OutcomeUnknown, never a blind retry."""
        return await self._send("POST", path, json_body=body, idempotent=False)

    async def patch(self, path: str, ops: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """RFC 6902 JSON Patch; retried like a read (factsync only sends ``replace``/``test``)."""
        response = await self._send(
            "PATCH",
            path,
            json_body=list(ops),
            content_type="application/json-patch+json",
        )
        return self._json_object(response)

    async def put(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        response = await self._send("PUT", path, json_body=body)
        return self._json_object(response)

    # --- service hours --------------------------------------------------------------------------

    async def post_service_hours(self, kind: Kind, row: StudentServiceHoursModel) -> None:
        """Create one row; FACTS answers 201 with no body, so read it back to learn its id."""
        body = row.model_dump(mode="json", exclude_none=True)
        body["serviceHoursId"] = 0
        await self.post(SERVICE_HOURS_PATHS[kind], body)

    async def list_service_hours(
        self, kind: Kind, person_ids: Iterable[int], *, bypass_cache: bool = True
    ) -> list[StudentServiceHoursModel]:
        """Rows of these people, fresh by default (reading back a write must skip the cache);
        read leniently: an unreadable field of one row is None, not an error for all."""
        rows: list[StudentServiceHoursModel] = []
        rows += await self.get_by_ids(
            SERVICE_HOURS_PATHS[kind],
            ServiceHoursRead,
            "personId",
            person_ids,
            bypass_cache=bypass_cache,
        )
        return rows

    async def patch_service_hours(
        self, kind: Kind, service_hours_id: int, ops: Sequence[Mapping[str, Any]]
    ) -> StudentServiceHoursModel:
        body = await self.patch(f"{SERVICE_HOURS_PATHS[kind]}/{int(service_hours_id)}", ops)
        return ServiceHoursRead.model_validate(body)

    # --- the one place requests are sent --------------------------------------------------------

    def _emit(self, event: ClientEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def _scrub(self, text: str | bytes) -> str:
        return scrub(text, self._secrets)

    def _on_wait(self, seconds: float) -> None:
        self.stats.rate_limit_waits += 1
        self.stats.wait_seconds += seconds
        self._emit(RateLimitWait(seconds))

    def _backoff(self, attempt: int) -> float:
        ceiling: float = min(self.backoff_cap, self.backoff_base * 2.0 ** (attempt - 1))
        return ceiling / 2 + self._random.uniform(0, ceiling / 2)

    async def _retry(self, attempt: int, reason: str, method: str, path: str, delay: float) -> None:
        self.stats.retries += 1
        log.info("FACTS %s %s: %s; retry %d in %.2fs", method, path, reason, attempt, delay)
        self._emit(Retry(attempt, reason, delay, method, path))
        if delay > 0:
            await asyncio.sleep(delay)

    def _json_object(self, response: httpx.Response) -> dict[str, Any]:
        if not response.content:
            return {}
        try:
            body = response.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {"value": body}

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json_body: Any = None,
        content_type: str = "application/json",
        bypass_cache: bool = False,
        idempotent: bool = True,
        parse: Parser | None = None,
    ) -> httpx.Response:
        """Send with rate limiting and bounded retries; map failures to typed FactsErrors."""
        path = "/" + path.lstrip("/")
        query: dict[str, str | int] = {"api-version": "1", **(params or {})}
        headers: dict[str, str] = {}
        content: bytes | None = None
        if json_body is not None:
            content = json.dumps(json_body).encode()
            headers["Content-Type"] = content_type
        attempt = 0
        rate_limited_for, refusals = 0.0, 0
        while True:
            attempt += 1
            if self.unreachable_since is not None and (
                time.monotonic() - self.unreachable_since >= self.timeout
            ):
                raise FactsUnreachable(self._given_up("no answer from FACTS"))
            await self.limiter.acquire(self._on_wait)
            if bypass_cache:
                headers["x-bypass-cache"] = str(int(time.time()))
            started = time.perf_counter()
            try:
                response = await self._http.request(
                    method, path, params=query, content=content, headers=headers
                )
            except httpx.TransportError as exc:
                self.stats.requests += 1
                reason = self._scrub(f"{type(exc).__name__}: {exc}".rstrip(": "))
                if not idempotent and not isinstance(exc, _PRE_SEND_ERRORS):
                    raise OutcomeUnknown(method, path, reason) from exc
                delay = self._backoff(attempt)
                if attempt > self.max_retries or self._out_of_time(started, delay):
                    raise FactsUnreachable(self._given_up(reason)) from exc
                await self._retry(attempt, reason, method, path, delay)
                continue
            self.stats.requests += 1
            _unbind(response)
            elapsed = time.perf_counter() - started
            self.latency.observe(elapsed)
            records = self._count_records(method, response, parse)
            self._emit(RequestDone(path, response.status_code, records, method, elapsed))
            status = response.status_code
            unparsable = status < 400 and self._unparsable(method, response)
            if status < 500 and not unparsable:
                self.unreachable_since = None  # FACTS answered
            if status < 400 and not unparsable:
                return response
            if status < 400:
                # A 200 page that is not JSON (a gateway's HTML): a fetch error, retried like a 5xx.
                reason = f"HTTP {status} with {_text_message(response.text) or 'an empty body'}"
                delay = self._backoff(attempt)
                if attempt > self.max_retries or self._out_of_time(started, delay):
                    raise FactsUnreachable(self._given_up(f"{method} {path} answered {reason}"))
                await self._retry(attempt, reason, method, path, delay)
                continue
            if status == 429:
                # Refused at the gateway, so safe to resend (even a POST). Traffic outside
                # factsync on the same key is waited out: the attempt does not count, only
                # the total wait is bounded.
                wait = _retry_after(response)
                rate_limited_for, refusals = rate_limited_for + wait, refusals + 1
                if (
                    wait > MAX_RETRY_AFTER
                    or rate_limited_for > MAX_RATE_LIMITED_S
                    or refusals > MAX_RATE_LIMITED_TRIES
                ):
                    raise RateLimited(wait)
                attempt -= 1
                self.limiter.block_for(wait)
                await self._retry(attempt + 1, "429 rate limited", method, path, 0.0)
                continue
            if status >= 500:
                message = self._scrub(_body_message(response))
                field = _unknown_field(response.text) if status == 500 else None
                if field:
                    raise UnknownField(field)
                if not idempotent:
                    raise OutcomeUnknown(method, path, f"HTTP {status}", status=status)
                delay = self._backoff(attempt)
                if status in _GATEWAY_STATUSES and (
                    attempt > self.max_retries or self._out_of_time(started, delay)
                ):
                    raise FactsUnreachable(
                        f"{method} {path} answered HTTP {status}"
                        + (f" with {message}" if message else "")
                        + f" {attempt} times"
                    )
                if attempt > self.max_retries:
                    raise ServerError(
                        f"FACTS kept failing on {method} {path} (HTTP {status}"
                        + (f": {message}" if message else "")
                        + f") after {attempt} attempts.",
                        status=status,
                    )
                await self._retry(attempt, f"HTTP {status}", method, path, delay)
                continue
            raise self._error(method, path, response)

    def _out_of_time(self, started: float, delay: float) -> bool:
        """Whether waiting ``delay`` more would keep trying past the timeout (``--timeout``)."""
        now = time.monotonic()
        if self.unreachable_since is None:
            self.unreachable_since = now - (time.perf_counter() - started)
        return now + delay - self.unreachable_since >= self.timeout

    def _given_up(self, reason: str) -> str:
        if self.unreachable_since is None:
            return reason
        return f"{reason}; no answer for {time.monotonic() - self.unreachable_since:.0f} s"

    def _unparsable(self, method: str, response: httpx.Response) -> bool:
        """A GET answered 2xx whose body is not the JSON FACTS sends."""
        return (
            method == "GET"
            and response.status_code == 200
            and _PARSED not in response.extensions
        )

    def _count_records(self, method: str, response: httpx.Response, parse: Parser | None) -> int:
        if method != "GET" or response.status_code != 200:
            return 0
        try:
            body = parse(response.content) if parse is not None else response.json()
        except (ValueError, UnicodeDecodeError):  # pydantic's ValidationError is a ValueError
            return 0
        response.extensions[_PARSED] = body  # get_page reuses it: a 6,000-row page is parsed once
        results = body.get("results") if isinstance(body, dict) else None
        count = len(results) if isinstance(results, list) else 0
        self.stats.records += count
        return count

    def _error(self, method: str, path: str, response: httpx.Response) -> FactsError:
        """The typed error for a 4xx FACTS will answer the same way however often it is asked."""
        status = response.status_code
        message = self._scrub(_body_message(response))
        lowered = message.lower()
        if status == 401:
            if "subscription key" in lowered:
                return InvalidSubscriptionKey(message)
            return InvalidApiKey()
        if status == 403:
            if "quota" in lowered:
                seconds = _retry_after(response, default=-1.0)
                if seconds < 0:
                    now = datetime.now(UTC)
                    until = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0)
                else:
                    until = datetime.now(UTC) + timedelta(seconds=seconds)
                return QuotaExhausted(until.replace(microsecond=0))
            if method == "GET":
                return PermissionMissing(_domain(path), message)
            return ReadOnly(_domain(path))
        if status == 404:
            return NotFound(f"FACTS has no {method} {path}: {message or 'not found'}", status=404)
        if status in (400, 422):
            return ValidationFailed(
                f"FACTS refused {method} {path}: {message or 'invalid request'}", status=status
            )
        return FactsError(
            f"FACTS answered {method} {path} with HTTP {status}"
            + (f": {message}" if message else "."),
            status=status,
        )
