"""The shared request budget of a FACTS subscription key: send times in the store's rate tables.

Every factsync process that opens the store (wizard, cron write-back, daemon, sync) reserves
each request's send time here, in one short write transaction, so together they stay under the
plan (``core.facts.ratelimit`` decides the times; this module only keeps them).

The ledger talks to the store file over its own connection with a short busy timeout: when an
import holds the store's write lock, a reservation answers "busy" at once and the caller asks
again after an async sleep, instead of freezing an event loop for the store's 10 s timeout.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import peewee as pw

from store.db import is_busy

PRUNE_EVERY = 50
KEEP_S = 180.0
"""Send times older than this are deleted (the longest window is a minute)."""


class _Window(Protocol):
    @property
    def limit(self) -> int: ...

    @property
    def seconds(self) -> float: ...


def budget_key(subscription_key: str) -> str:
    """What the store keeps instead of the key: a hash that cannot be turned back into it."""
    return hashlib.sha256(b"factsync-rate-budget:" + subscription_key.encode()).hexdigest()[:32]


class StoreLedger:
    """A ``core.facts.ratelimit.Ledger`` kept in the store's ``rate_budget``/``rate_slot`` tables."""

    def __init__(self, path: Path, key: str, *, busy_timeout_ms: int = 50) -> None:
        self.key = key
        self._db = pw.SqliteDatabase(
            str(path),
            pragmas={"journal_mode": "wal", "busy_timeout": busy_timeout_ms},
            autoconnect=True,
        )
        self._budget_id: int | None = None
        self._calls = 0

    def _sql(self, sql: str, params: tuple[Any, ...]) -> Any:
        return self._db.execute_sql(sql, params)  # type: ignore[no-untyped-call]

    def close(self) -> None:
        if not self._db.is_closed():
            self._db.close()

    def _budget(self) -> int:
        if self._budget_id is None:
            self._sql(
                "INSERT INTO rate_budget (key, blocked_until) VALUES (?, 0) "
                "ON CONFLICT (key) DO NOTHING",
                (self.key,),
            )
            row = self._sql(
                "SELECT id FROM rate_budget WHERE key = ?", (self.key,)
            ).fetchone()
            self._budget_id = int(row[0])
        return self._budget_id

    def _earliest(
        self, budget: int, windows: Sequence[_Window], margin: float, earliest: float
    ) -> float:
        row = self._sql(
            "SELECT blocked_until FROM rate_budget WHERE id = ?", (budget,)
        ).fetchone()
        at = max(earliest, float(row[0]) if row else 0.0)
        for w in windows:
            found = self._sql(
                "SELECT at FROM rate_slot WHERE budget_id = ? ORDER BY at DESC LIMIT 1 OFFSET ?",
                (budget, w.limit - 1),
            ).fetchone()
            if found is not None:
                at = max(at, float(found[0]) + w.seconds + margin)
        return at

    def peek(self, windows: Sequence[_Window], margin: float, earliest: float) -> float:
        try:
            return self._earliest(self._budget(), windows, margin, earliest)
        except pw.OperationalError as err:
            if is_busy(err):
                return earliest
            raise

    def reserve(self, windows: Sequence[_Window], margin: float, earliest: float) -> float | None:
        try:
            with self._db.atomic("IMMEDIATE"):
                budget = self._budget()
                at = self._earliest(budget, windows, margin, earliest)
                self._sql(
                    "INSERT INTO rate_slot (budget_id, at) VALUES (?, ?)", (budget, at)
                )
                self._calls += 1
                if self._calls % PRUNE_EVERY == 0:
                    self._sql(
                        "DELETE FROM rate_slot WHERE budget_id = ? AND at < ?",
                        (budget, earliest - KEEP_S),
                    )
            return at
        except pw.OperationalError as err:
            if is_busy(err):
                return None
            raise

    def block_until(self, when: float) -> None:
        try:
            with self._db.atomic("IMMEDIATE"):
                self._sql(
                    "UPDATE rate_budget SET blocked_until = MAX(blocked_until, ?) WHERE id = ?",
                    (when, self._budget()),
                )
        except pw.OperationalError as err:
            if not is_busy(err):
                raise
