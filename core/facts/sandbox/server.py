"""The sandbox as a real HTTP API on loopback: stdlib ThreadingHTTPServer in a background thread."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from core.facts.sandbox.engine import Sandbox
from core.facts.sandbox.messages import Request


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms stalls
    server: SandboxHTTPServer

    def _serve(self) -> None:
        started = time.perf_counter()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        split = urlsplit(self.path)
        host = self.headers.get("Host") or f"{self.server.host}:{self.server.port}"
        request = Request(
            method=self.command,
            base_url=f"http://{host}",
            path=unquote(split.path),
            query=parse_qsl(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        sandbox = self.server.sandbox
        outcome = sandbox.handle(request)
        if outcome.delay_s > 0:
            time.sleep(outcome.delay_s)
        if outcome.drop is not None:
            sandbox.finish(outcome, time.perf_counter() - started)
            self._drop()
            return
        response = outcome.response
        self.send_response(response.status)
        for name, value in response.headers.items():
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.body:
            self.wfile.write(response.body)
        self.wfile.flush()
        sandbox.finish(outcome, time.perf_counter() - started)

    def _drop(self) -> None:
        """Close the socket without a byte of answer, as a dying proxy or backend would."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the sandbox records requests itself."""


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sandbox = sandbox
        super().__init__((host, port), _Handler)
        self.host = host
        self.port = int(self.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"


class LoopbackServer:
    """A running sandbox server; a context manager that stops it on exit."""

    def __init__(self, sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0) -> None:
        self.httpd = SandboxHTTPServer(sandbox, host, port)
        self.sandbox = sandbox
        self._thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name=f"factsync-sandbox-{self.httpd.port}",
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        return self.httpd.base_url

    @property
    def port(self) -> int:
        return self.httpd.port

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve_in_thread(sandbox: Sandbox, port: int = 0, host: str = "127.0.0.1") -> LoopbackServer:
    """Start serving ``sandbox`` on ``host:port`` (0 = any free port) in a daemon thread."""
    return LoopbackServer(sandbox, host, port)
