"""Alerts (issue 10 §3) against a real SMTP server (aiosmtpd) and a loopback webhook receiver:
one alert per new condition, one on recovery, none repeated; STARTTLS and a login from the
environment, never shown."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.test_cli_contract import Run, _closed_port, _point_at

PASSWORD = "s3cret-Smtp-Pa55"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    box = Inbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


class Hooks:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []


@pytest.fixture
def webhook() -> Iterator[tuple[Hooks, str]]:
    hooks = Hooks()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length", "0"))
            hooks.bodies.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hooks, f"http://127.0.0.1:{server.server_address[1]}/alerts?token=abc"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def run(tmp_path: Path) -> Run:
    r = Run(tmp_path)
    r("site", "add", "kids")
    r("connect", "kids", "--base-url", "sandbox:?families=25&seed=2")
    r("setup", "kids", "--kind", "students")
    return r


def test_one_alert_per_new_condition_one_on_recovery_none_repeated(
    run: Run, inbox: tuple[Inbox, int], webhook: tuple[Hooks, str]
) -> None:
    box, port = inbox
    hooks, url = webhook
    env = {"FACTSYNC_SMTP_URL": f"smtp://127.0.0.1:{port}"}
    shown = run("alerts", "kids", "--email", "office@school.org", "--email", "it@school.org",
                "--webhook", url)
    assert "email to it@school.org, office@school.org" in shown.stdout
    assert "token=abc" not in shown.stdout  # a webhook's secret is not shown

    run("sync", "kids", code=3, env=env)  # new conflicts: attention
    run("sync", "kids", env=env)  # the same conflicts: nothing new, no alert
    run("sync", "kids", env=env)
    good = "sandbox:?families=25&seed=2"
    _point_at(run, f"http://127.0.0.1:{_closed_port()}")
    run("--timeout", "1", "sync", "kids", code=1, env=env)  # FACTS gone: one alert
    run("--timeout", "1", "sync", "kids", code=1, env=env)  # still gone: no second alert
    _point_at(run, good)
    run("sync", "kids", env=env)  # works again: one recovery alert
    run("sync", "kids", env=env)

    assert [b["status"] for b in hooks.bodies] == ["attention", "failed", "recovered"]
    assert [b["exitCode"] for b in hooks.bodies] == [3, 1, 0]
    assert hooks.bodies[1]["code"] == "factsUnreachable" and hooks.bodies[0]["site"] == "kids"
    subjects = [m["Subject"] for m in box.messages]
    assert subjects == ["[factsync] kids: sync needs attention", "[factsync] kids: sync failed",
                        "[factsync] kids: sync works again"]
    assert {m["To"] for m in box.messages} == {"it@school.org, office@school.org"}
    assert "unreachable" in box.messages[1].get_payload()
    status = run.json("status", "kids")
    assert status["lastRuns"]["sync"]["exitCode"] == 0

    run("alerts", "test", "kids", env=env)
    assert hooks.bodies[-1]["status"] == "test" and len(box.messages) == 4


def test_a_channel_that_fails_warns_and_never_fails_the_run(run: Run) -> None:
    run("alerts", "kids", "--webhook", f"http://127.0.0.1:{_closed_port()}/hook")
    out = run("sync", "kids", code=3)
    assert "warning: alert webhook" in out.stderr
    assert "could not be reached" in run("alerts", "test", "kids", code=1).stderr


@pytest.fixture
def tls_inbox(tmp_path: Path) -> Iterator[tuple[Inbox, int, Path]]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a certificate for the STARTTLS test")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    box = Inbox()

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                     auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == PASSWORD.encode()
        if ok:
            box.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)

    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port, tls_context=context,
                            require_starttls=True, authenticator=authenticate)
    controller.start()
    try:
        yield box, port, cert
    finally:
        controller.stop()


def test_email_goes_over_starttls_with_the_login_from_the_environment(
    run: Run, tls_inbox: tuple[Inbox, int, Path]
) -> None:
    box, port, cert = tls_inbox
    env = {"FACTSYNC_SMTP_URL": f"smtp://localhost:{port}", "FACTSYNC_SMTP_USER": "alerts",
           "FACTSYNC_SMTP_PASSWORD": PASSWORD, "SSL_CERT_FILE": str(cert)}
    run("alerts", "kids", "--email", "office@school.org")
    out = run("alerts", "test", "kids", env=env)
    assert "test alert sent: email to office@school.org" in out.stdout
    assert box.logins == ["alerts"] and len(box.messages) == 1
    assert PASSWORD not in out.output
