"""httpx transports that answer from a Sandbox in-process: no sockets, same handler as the server."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

import anyio
import httpx

from core.facts.sandbox.messages import Request

if TYPE_CHECKING:
    from core.facts.sandbox.engine import Outcome, Sandbox


def to_request(request: httpx.Request, body: bytes) -> Request:
    url = request.url
    origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
    query = parse_qsl(url.query.decode("utf-8", "replace"), keep_blank_values=True)
    headers = {k.lower(): v for k, v in request.headers.items()}
    return Request(request.method, origin, url.path, query, headers, body)


def to_response(outcome: Outcome, request: httpx.Request) -> httpx.Response:
    if outcome.drop == "before":
        raise httpx.RemoteProtocolError(
            "Server disconnected without sending a response.", request=request
        )
    if outcome.drop == "after":
        raise httpx.ReadError("[Errno 104] Connection reset by peer", request=request)
    response = outcome.response
    return httpx.Response(
        response.status, headers=response.headers, content=response.body, request=request
    )


class AsyncSandboxTransport(httpx.AsyncBaseTransport):
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        body = await request.aread()
        outcome = self.sandbox.handle(to_request(request, body))
        if outcome.delay_s > 0:
            await anyio.sleep(outcome.delay_s)
        self.sandbox.finish(outcome, time.perf_counter() - started)
        return to_response(outcome, request)


class SyncSandboxTransport(httpx.BaseTransport):
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        body = request.read()
        outcome = self.sandbox.handle(to_request(request, body))
        if outcome.delay_s > 0:
            time.sleep(outcome.delay_s)
        self.sandbox.finish(outcome, time.perf_counter() - started)
        return to_response(outcome, request)
