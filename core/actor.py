"""Who is acting: the one place that decides the actor every event records.

The OS user by default. A wizard that ``factsync serve`` started for a browser session with a
login gets that login through :data:`SERVE_LOGIN_ENV` (``serve`` sets it per session, in the
environment of the session's own process), and acts as it.
"""

from __future__ import annotations

import getpass
import os
import socket
from dataclasses import dataclass

SERVE_LOGIN_ENV = "FACTSYNC_SERVE_LOGIN"
"""The login of the browser session this process serves (set by ``factsync serve``)."""


@dataclass(frozen=True)
class Actor:
    name: str
    via: str
    """``os`` (the OS user) or ``serve`` (a ``factsync serve`` login)."""
    host: str

    def words(self) -> str:
        return describe(self.name, self.via, self.host)


def describe(name: str | None, via: str | None, host: str | None = None) -> str:
    """An actor as the CLI shows it: ``alice@host``, ``bob (browser login)``, or ``unknown`` for
    what was recorded before actors were; without ``host`` (the screens), ``alice``."""
    if not name:
        return "unknown"
    if via == "serve":
        return f"{name} (browser login)"
    return f"{name}@{host}" if host else name


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def current_actor() -> Actor:
    """The serve login of this session when there is one, else the OS user."""
    host = socket.gethostname()
    login = (os.environ.get(SERVE_LOGIN_ENV) or "").strip()
    if login:
        return Actor(login, "serve", host)
    return Actor(os_user(), "os", host)
