"""Transport-neutral request/response values and the FACTS error bodies.

The in-process transport and the loopback server both turn their requests into these, so one
handler answers both ways.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

JSON_TYPE = "application/json; charset=utf-8"


@dataclass
class Request:
    method: str
    base_url: str
    """Origin the request came in on (``https://api.factsmgt.com``); ``nextPage`` links use it."""
    path: str
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    """Header names lower-cased."""
    body: bytes = b""

    def param(self, name: str) -> str | None:
        """Query parameter by case-insensitive name; the last one wins."""
        wanted = name.lower()
        found: str | None = None
        for key, value in self.query:
            if key.lower() == wanted:
                found = value
        return found


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


_ENCODER = json.JSONEncoder(separators=(",", ":"))


def dumps(value: Any) -> bytes:
    """Compact ASCII JSON; one shared encoder (``json.dumps`` builds one per call)."""
    return _ENCODER.encode(value).encode("ascii")


def json_response(status: int, value: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, dumps(value), {"content-type": JSON_TYPE, **(headers or {})})


def gateway_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """Azure API Management's own error shape (keys, rate limit, quota, unknown route)."""
    return json_response(status, {"statusCode": status, "message": message}, headers)


_PROBLEM_TYPES = {
    400: "https://tools.ietf.org/html/rfc7231#section-6.5.1",
    403: "https://tools.ietf.org/html/rfc7231#section-6.5.3",
    500: "https://tools.ietf.org/html/rfc7231#section-6.6.1",
}
_PROBLEM_TITLES = {
    400: "One or more validation errors occurred.",
    403: "Forbidden",
    500: "An error occurred while processing your request.",
}


def problem(status: int, detail: str, instance: str = "", **extra: Any) -> Response:
    """ASP.NET ProblemDetails (scope 403, unknown filter/sort field 500)."""
    body: dict[str, Any] = {
        "type": _PROBLEM_TYPES.get(status, "about:blank"),
        "title": _PROBLEM_TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": instance,
        **extra,
    }
    return json_response(status, body, {"content-type": "application/problem+json; charset=utf-8"})


def error_response(status: int, code: str, message: str, target: str | None = None) -> Response:
    """FACTS controllers' ErrorResponse (by-id 404, 400/422 validation)."""
    error: dict[str, Any] = {"code": code, "message": message}
    if target is not None:
        error["target"] = target
    return json_response(status, {"error": error})
