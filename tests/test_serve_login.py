"""``factsync serve`` with a login (issue 11 §6), against the running server with real HTTP
clients: 401 without a session, 200 with one, wrong passwords limited per name and per address,
a LAN address refused without logins, and the login as the actor of what its session does.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import httpx
import pytest
from click.testing import CliRunner

from core.cli import cli
from core.events import site_events
from core.login.passwords import LoginError, hash_password, read_users, verify
from core.sites import get_site
from store import open_store
from tests.test_tui_browser import free_port, wait_for_port

CLI = [sys.executable, "-c", "from core.cli import main; main()"]


def test_hashes_check_the_password_and_nothing_else() -> None:
    encoded = hash_password("correct horse")
    assert encoded.startswith("scrypt$16384$8$1$") and "correct" not in encoded
    assert verify("correct horse", encoded)
    assert not verify("correct horsE", encoded) and not verify("", encoded)
    assert not verify("correct horse", "scrypt$bad") and not verify("x", "md5$1$2$3$4$5")
    assert hash_password("correct horse") != encoded  # salted


def test_users_file_is_made_by_a_command_that_never_takes_the_password_as_an_argument(
        tmp_path: Path) -> None:
    users = tmp_path / "users"
    runner = CliRunner()
    added = runner.invoke(cli, ["serve", "users", "add", "alice", "--users", str(users)],
                          input="correct horse\n")
    assert added.exit_code == 0, added.output
    assert "added alice" in added.output
    text = users.read_text()
    assert "correct horse" not in text and "alice:scrypt$" in text
    assert stat.S_IMODE(users.stat().st_mode) == 0o600
    again = runner.invoke(cli, ["serve", "users", "add", "alice", "--users", str(users)],
                          input="another secret\n")
    assert "changed the password of alice" in again.output
    assert verify("another secret", read_users(users)["alice"])
    short = runner.invoke(cli, ["serve", "users", "add", "bob", "--users", str(users)],
                          input="short\n")
    assert short.exit_code == 2 and "at least 8 characters" in short.output
    bad = runner.invoke(cli, ["serve", "users", "add", "b:ob", "--users", str(users)], input="x\n")
    assert bad.exit_code == 2 and "login name" in bad.output
    listed = runner.invoke(cli, ["serve", "users", "list", "--users", str(users)])
    assert listed.output.split() == ["alice"] and "scrypt" not in listed.output
    assert runner.invoke(cli, ["serve", "users", "remove", "alice", "--users",
                               str(users)]).exit_code == 0
    assert read_users(users) == {}
    users.write_text("alice:plaintext\n")
    with pytest.raises(LoginError, match="line 1: expected 'name:scrypt"):
        read_users(users)


def test_a_lan_address_needs_a_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FACTSYNC_SERVE_PASSWORD", raising=False)
    monkeypatch.delenv("FACTSYNC_SERVE_USERS", raising=False)
    runner = CliRunner()
    for host in ("0.0.0.0", "192.168.1.20", "school-server"):
        out = runner.invoke(cli, ["serve", "--host", host, "--db", str(tmp_path / "s.db")])
        assert out.exit_code == 2, out.output
        assert f"serving on {host} lets anyone" in out.output and "--users FILE" in out.output
    short = runner.invoke(cli, ["serve", "--host", "0.0.0.0", "--db", str(tmp_path / "s.db")],
                          env={"FACTSYNC_SERVE_PASSWORD": "short"})
    assert short.exit_code == 2 and "at least 8 characters" in short.output


# --- the running server ---------------------------------------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``factsync serve`` on loopback with two users in a file and the shared support login."""
    users = tmp_path / "users"
    for name, password in (("alice", "alice-password"), ("bob", "bob-password")):
        subprocess.run([*CLI, "serve", "users", "add", name, "--users", str(users)],
                       input=password + "\n", text=True, check=True, capture_output=True)
    db = tmp_path / "s.db"
    open_store(db).close()
    port = free_port()
    env = {**os.environ, "CI": "1", "FACTSYNC_SERVE_PASSWORD": "support-password"}
    proc = subprocess.Popen([*CLI, "serve", "--db", str(db), "--port", str(port), "--users",
                             str(users)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=env)
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}", db
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def log_in(client: httpx.Client, name: str, password: str) -> httpx.Response:
    return client.post("/login", data={"name": name, "password": password})


def test_every_route_needs_a_login_and_wrong_passwords_are_limited(
        server: tuple[str, Path]) -> None:
    url, _ = server
    with httpx.Client(base_url=url) as anon:
        page = anon.get("/")
        assert page.status_code == 401 and 'name="password"' in page.text
        assert anon.get("/static/js/textual.js").status_code == 401
        assert anon.get("/ws").status_code == 401
        assert anon.get("/download/x").status_code == 401
    with httpx.Client(base_url=url) as bob:
        done = log_in(bob, "bob", "bob-password")
        assert done.status_code == 303 and done.headers["location"] == "/"
        cookie = done.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert bob.get("/").status_code == 200 and "textual" in bob.get("/").text.lower()
        assert bob.get("/login").status_code == 303  # logged in already
    with httpx.Client(base_url=url) as support:
        assert log_in(support, "support", "support-password").status_code == 303
        assert support.get("/").status_code == 200
    with httpx.Client(base_url=url) as guess:
        for _ in range(5):
            wrong = log_in(guess, "alice", "not-her-password")
            assert wrong.status_code == 401 and "Wrong name or password." in wrong.text
        locked = log_in(guess, "alice", "alice-password")  # the right one, too late
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 200
        assert "Too many wrong passwords" in locked.text
        assert guess.get("/").status_code == 401
        # a wrong name says no more than a wrong password; 20 failures lock the address
        nobody = log_in(guess, "mallory", "whatever-it-is")
        assert nobody.status_code == 401 and "Wrong name or password." in nobody.text
        for i in range(14):
            assert log_in(guess, f"user{i}", "whatever-it-is").status_code == 401
        assert log_in(guess, "support", "support-password").status_code == 429
    with httpx.Client(base_url=url) as other_site:  # another site's page cannot log in here
        forged = other_site.post("/login", data={"name": "bob", "password": "bob-password"},
                                 headers={"Origin": "http://evil.example"})
        assert forged.status_code == 403


async def test_the_login_is_the_actor_of_its_session(server: tuple[str, Path]) -> None:
    url, db = server
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.post(f"{url}/login", data={"name": "bob", "password": "bob-password"},
                             allow_redirects=False) as done:
            assert done.status == 303
        async with http.get(f"{url}/") as page:
            assert page.status == 200
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await http.ws_connect(f"{url}/ws", headers={"Origin": "http://evil.example"})
        async with http.ws_connect(f"{url}/ws?width=100&height=32") as ws:
            screen = Screen(ws)
            await screen.painted()
            for keys in ("n", "Browser PTA", "\r"):  # Home: New site, its name, Enter
                await ws.send_str(json.dumps(["stdin", keys]))
                await asyncio.sleep(0.8)
            site = await _site_appears(db, "Browser PTA")
            screen.reader.cancel()
    store = open_store(db)
    try:
        events = site_events(store, get_site(store, site))
        assert [(e.action, e.actor, e.via) for e in events][-1] == ("site-add", "bob", "serve")
        assert events[-1].who == "bob (browser login)"
    finally:
        store.close()


class Screen:
    """What the session's wizard sent so far (bytes of terminal output)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.seen = 0
        self.reader = asyncio.create_task(self._read(ws))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            self.seen += len(message.data) if isinstance(message.data, bytes | str) else 0

    async def painted(self, timeout: float = 20.0) -> None:
        """The wizard's process started and painted Home."""
        deadline = time.monotonic() + timeout
        while self.seen < 20_000:
            assert not self.reader.done() and time.monotonic() < deadline, "nothing painted"
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)


async def _site_appears(db: Path, name: str, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        store = open_store(db)
        try:
            from core.sites import list_sites

            if name in [s.name for s in list_sites(store)]:
                return name
        finally:
            store.close()
        await asyncio.sleep(0.2)
    raise AssertionError(f"the session never created the site {name!r}")
