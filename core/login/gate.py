"""The login in front of ``factsync serve``: an aiohttp middleware over the app textual-serve
builds, a login form, sessions, and a limit on wrong passwords.

Every route but the form itself needs a session: a page gets the form (401), anything else a
plain 401, so the app, its static files, downloads and the websocket that drives the wizard are
all behind the login. A session is a random token in an HttpOnly, SameSite=Strict cookie (a
browser sends it on the websocket too, and never from another site's page); it lasts 12 hours or
until ``/logout``. The login name of the session is what ``serve`` hands the session's wizard
as its actor (``core.actor``).

Wrong passwords are limited per name (5 in 5 minutes) and per client address (20): past that,
the form answers 429 with ``Retry-After`` (the right password too) until the oldest failure is
5 minutes old. A wrong name costs as much time as a wrong password, and both get one message.
"""

from __future__ import annotations

import asyncio
import html
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from aiohttp import web

from core.login.passwords import dummy_hash, verify

COOKIE = "factsync_session"
LOGIN_KEY = web.RequestKey("factsync_login", str)
"""Where the middleware leaves the session's login name on a request."""
OPEN_PATHS = frozenset({"/login", "/logout"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Limits:
    per_name: int = 5
    per_address: int = 20
    window_s: float = 300.0
    session_s: float = 12 * 3600.0


@dataclass
class LoginGate:
    """Who may log in (name -> scrypt hash) and the sessions and failures of this server."""

    users: dict[str, str]
    limits: Limits = field(default_factory=Limits)
    clock: Callable[[], float] = time.monotonic
    _sessions: dict[str, tuple[str, float]] = field(default_factory=dict)
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def install(self, app: web.Application) -> None:
        """Put the gate in front of every route of ``app`` and add the form's routes."""
        app.middlewares.append(self.middleware)
        app.router.add_get("/login", self.form)
        app.router.add_post("/login", self.submit)
        app.router.add_get("/logout", self.logout)

    # --- sessions ---------------------------------------------------------------------------

    def login_of(self, request: web.Request) -> str | None:
        token = request.cookies.get(COOKIE, "")
        found = self._sessions.get(token)
        if found is None:
            return None
        name, until = found
        if until <= self.clock():
            del self._sessions[token]
            return None
        return name

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in OPEN_PATHS:
            return await handler(request)
        name = self.login_of(request)
        if name is None:
            if request.method == "GET" and request.path == "/":
                return _page(401, "")
            raise web.HTTPUnauthorized(text="log in first: /login")
        if request.path == "/ws" and not _same_origin(request):
            raise web.HTTPForbidden(text="the app's page must be opened from this server")
        request[LOGIN_KEY] = name
        return await handler(request)

    # --- the form ---------------------------------------------------------------------------

    async def form(self, request: web.Request) -> web.StreamResponse:
        if self.login_of(request) is not None:
            raise web.HTTPSeeOther("/")
        return _page(200, "")

    async def submit(self, request: web.Request) -> web.StreamResponse:
        if not _same_origin(request):
            raise web.HTTPForbidden(text="log in from this server's own form")
        data = await request.post()
        name = str(data.get("name") or "").strip()
        password = str(data.get("password") or "")
        address = request.remote or "?"
        wait = self._wait(name, address)
        if wait:
            minutes = max(1, round(wait / 60))
            response = _page(429, f"Too many wrong passwords: try again in {minutes} "
                                  f"minute{'s' if minutes != 1 else ''}.")
            response.headers["Retry-After"] = str(int(wait) + 1)
            return response
        encoded = self.users.get(name)
        loop = asyncio.get_running_loop()  # scrypt takes ~50 ms: off the event loop
        ok = await loop.run_in_executor(None, verify, password, encoded or dummy_hash())
        if not ok or encoded is None:
            self._fail(name, address)
            return _page(401, "Wrong name or password.")
        self._failures.pop(f"name:{name}", None)
        token = secrets.token_urlsafe(32)
        self._sessions[token] = (name, self.clock() + self.limits.session_s)
        response = web.HTTPSeeOther("/")
        response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/",
                            max_age=int(self.limits.session_s), secure=request.secure)
        raise response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        self._sessions.pop(request.cookies.get(COOKIE, ""), None)
        response = web.HTTPSeeOther("/login")
        response.del_cookie(COOKIE, path="/")
        raise response

    # --- wrong passwords --------------------------------------------------------------------

    def _recent(self, key: str) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        horizon = self.clock() - self.limits.window_s
        while times and times[0] <= horizon:
            times.popleft()
        return times

    def _wait(self, name: str, address: str) -> float:
        """Seconds until a login for ``name`` from ``address`` may be tried again (0: now)."""
        now = self.clock()
        wait = 0.0
        for key, cap in ((f"name:{name}", self.limits.per_name),
                         (f"addr:{address}", self.limits.per_address)):
            times = self._recent(key)
            if len(times) >= cap:
                wait = max(wait, times[len(times) - cap] + self.limits.window_s - now)
        return wait

    def _fail(self, name: str, address: str) -> None:
        now = self.clock()
        for key in (f"name:{name}", f"addr:{address}"):
            self._recent(key).append(now)
        if len(self._failures) > 10_000:  # forget the quiet ones
            for key in [k for k, v in self._failures.items() if not v]:
                del self._failures[key]


def _same_origin(request: web.Request) -> bool:
    """A browser's Origin, when it sends one, names this server (no other site's page may
    log in here or open the app's websocket)."""
    origin = request.headers.get("Origin")
    if not origin:
        return True
    return urlsplit(origin).netloc.lower() == request.host.lower()


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>factsync: log in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; background: #1e1e2e; color: #e0e0e0;
       display: flex; justify-content: center; margin-top: 12vh; }}
form {{ background: #2a2a3c; padding: 2em; border-radius: 8px; min-width: 18em; }}
label {{ display: block; margin-top: 1em; }}
input {{ width: 100%; padding: .5em; margin-top: .3em; box-sizing: border-box; }}
button {{ margin-top: 1.5em; padding: .5em 1.5em; }}
p.error {{ color: #ff8080; }}
</style></head>
<body><form method="post" action="/login">
<h1>factsync</h1>
{message}
<label>Name <input name="name" autocomplete="username" autofocus required></label>
<label>Password <input name="password" type="password" autocomplete="current-password"
required></label>
<button type="submit">Log in</button>
</form></body></html>
"""


def _page(status: int, message: str) -> web.Response:
    shown = f'<p class="error">{html.escape(message)}</p>' if message else ""
    response = web.Response(status=status, text=_PAGE.format(message=shown),
                            content_type="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response
