"""What the screens are given: the store, an optional FACTS transport, and each site's flow state.

Screens call ``core`` functions through the helpers here from their workers. FACTS calls are async
(httpx); they run in a thread worker on an event loop of their own, so the in-process sandbox and
the parsing of 6,000-row pages never stall the interface, and a cancelled worker cancels the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx

from core.roster import Roster
from core.sync.plan import SyncPlan
from store import Store

T = TypeVar("T")


class Cancelled(Exception):
    """The admin cancelled a FACTS call (Escape on the fetch screen)."""


@dataclass
class SiteFlow:
    """Where one site's wizard is: the roster read, the plan made, merges asked for."""

    site: str
    roster: Roster | None = None
    plan: SyncPlan | None = None
    confirm_archive: bool = False
    merges: list[tuple[str, str]] = field(default_factory=list)
    """(keep email, absorb email) pairs to merge right after the sync is applied."""

    def forget_plan(self) -> None:
        self.plan = None
        self.confirm_archive = False


@dataclass
class Services:
    """Built once by the app factory; the same object reaches every screen."""

    store: Store
    transport: httpx.AsyncBaseTransport | None = None
    """Tests pass the in-process sandbox's transport; None means the site's saved base URL."""
    subscription_key: str | None = None
    """The vendor key from configuration (``FACTSYNC_SUBSCRIPTION_KEY``), prefilled on Connect."""
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC).replace(tzinfo=None))
    """The clock for "5 min ago" labels (store times are naive UTC)."""
    export_dir: Path = field(default_factory=Path.cwd)
    """Where invite CSV files are written."""
    approver: str = "site admin"
    """Who approves hours in this session (sent to FACTS as verifiedBy)."""
    flows: dict[str, SiteFlow] = field(default_factory=dict)

    @classmethod
    def from_env(cls, store: Store, transport: httpx.AsyncBaseTransport | None = None) -> Services:
        return cls(
            store,
            transport,
            os.environ.get("FACTSYNC_SUBSCRIPTION_KEY") or None,
            approver=os.environ.get("FACTSYNC_APPROVER") or _user(),
        )

    def flow(self, site: str) -> SiteFlow:
        found = self.flows.get(site)
        if found is None:
            found = self.flows[site] = SiteFlow(site)
        return found

    def run_async(
        self, make: Callable[[], Awaitable[T]], cancelled: Callable[[], bool] = lambda: False
    ) -> T:
        """Run a coroutine to the end on a fresh event loop (call from a thread worker).

        ``cancelled`` is polled; when it turns true the coroutine is cancelled and
        :class:`Cancelled` is raised.
        """

        async def main() -> T:
            task: asyncio.Future[T] = asyncio.ensure_future(make())
            while not task.done():
                if cancelled():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                    raise Cancelled()
                await asyncio.wait({task}, timeout=0.05)
            return task.result()

        return asyncio.run(main())


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "site admin"


def ago(when: datetime | None, now: datetime) -> str:
    """'just now', '5 min ago', '3 h ago', 'yesterday', or the date: stable for snapshots."""
    if when is None:
        return "never"
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    seconds = (now - when).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    if seconds < 2 * 86400:
        return "yesterday"
    return when.strftime("%Y-%m-%d")


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def error_text(err: BaseException) -> str:
    """The sentence to show for a failure: core errors already carry one."""
    text = str(err).strip()
    return text or err.__class__.__name__


Json = dict[str, Any]
