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


ErrorBody = str
"""``stack-trace`` (live FACTS: a 500 is a .NET exception and its stack, as text) or ``problem``
(a clean ProblemDetails). The client must read both."""
ERROR_BODIES = ("stack-trace", "problem")

_STACKS = {
    "sieve": (
        "Sieve.Exceptions.SieveMethodNotFoundException",
        "   at Sieve.Services.SieveProcessor`3.ApplyFiltering[TEntity](TSieveModel model, "
        "IQueryable`1 result, Object[] dataForCustomMethods)\r\n"
        "   at Sieve.Services.SieveProcessor`3.Apply[TEntity](TSieveModel model, IQueryable`1 "
        "source, Object[] dataForCustomMethods, Boolean applyFiltering, Boolean applySorting, "
        "Boolean applyPagination)\r\n"
        "   at Facts.Sis.Api.Infrastructure.PagedQueryHandler`2.Handle(TQuery request, "
        "CancellationToken cancellationToken)\r\n"
        "   at MediatR.Pipeline.RequestExceptionProcessorBehavior`2.Handle(TRequest request, "
        "RequestHandlerDelegate`1 next, CancellationToken cancellationToken)",
    ),
    "server": (
        "System.InvalidOperationException",
        "   at Facts.Sis.Api.Controllers.ApiControllerBase.Execute[TResult](Func`1 action)\r\n"
        "   at Microsoft.AspNetCore.Mvc.Infrastructure.ActionMethodExecutor.TaskOfIActionResult"
        "Executor.Execute(IActionResultTypeMapper mapper, ObjectMethodExecutor executor, Object "
        "controller, Object[] arguments)",
    ),
}


def server_error(detail: str, instance: str, style: ErrorBody, source: str = "server") -> Response:
    """A 500 as FACTS sends it: with ``stack-trace`` the exception's message followed by its .NET
    stack trace as plain text (what live FACTS answers to an unknown filter), else ProblemDetails."""
    if style == "problem":
        return problem(500, detail, instance)
    exc_type, stack = _STACKS[source]
    body = f"{exc_type}: {detail}\r\n{stack}\r\n".encode()
    return Response(500, body, {"content-type": "text/plain; charset=utf-8"})


_GATEWAY_PAGES = {
    502: "502 Bad Gateway",
    503: "503 Service Temporarily Unavailable",
    504: "504 Gateway Time-out",
}


def gateway_page(status: int) -> Response:
    """An HTML error page from a proxy in front of FACTS: not JSON at all."""
    title = _GATEWAY_PAGES.get(status, f"{status} Error")
    body = (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()
    return Response(status, body, {"content-type": "text/html"})
