"""Opening the store: one SQLite file in WAL mode, foreign keys on, a busy timeout, migrated."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import peewee as pw

from store.errors import DATABASE_ERRORS, StoreError, store_error
from store.migrations import migrate
from store.models import database
from store.paths import resolve_db_path
from store.secrets import SecretStore

PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": 10_000,
    "synchronous": "normal",
}


def is_busy(err: BaseException) -> bool:
    """SQLite's "database is locked/busy": another process holds the write lock (PostgreSQL's
    serialization failures will answer True here too). Such an error is retried, never fatal."""
    text = str(err).lower()
    return isinstance(err, pw.OperationalError | sqlite3.OperationalError) and (
        "locked" in text or "busy" in text
    )


@dataclass
class Store:
    path: Path
    db: pw.SqliteDatabase
    secrets: SecretStore

    def close(self) -> None:
        if not self.db.is_closed():
            self.db.close()


last_opened: Path | None = None
"""The store this process opened last: what a store failure message names."""


def open_store(
    path: str | os.PathLike[str] | None = None, *, busy_timeout_ms: int | None = None
) -> Store:
    """Open (creating and migrating if needed) the store at ``path`` and bind the models to it.

    ``busy_timeout_ms``: how long a write waits for another process's write lock before it
    fails as busy (default 10 s). Raises StoreError (one sentence: what is wrong, what to do)
    when the store cannot be used.
    """
    global last_opened
    db_path = resolve_db_path(path)
    last_opened = db_path
    pragmas = dict(PRAGMAS)
    if busy_timeout_ms is not None:
        pragmas["busy_timeout"] = busy_timeout_ms
    db = pw.SqliteDatabase(str(db_path), pragmas=pragmas)
    database.initialize(db)
    try:
        db.connect(reuse_if_open=True)
        migrate(db)
    except DATABASE_ERRORS as exc:
        if not db.is_closed():
            db.close()
        raise store_error(exc, db_path) from exc
    with contextlib.suppress(OSError):
        os.chmod(db_path, 0o600)
    return Store(path=db_path, db=db, secrets=SecretStore.beside(db_path))


__all__ = ["PRAGMAS", "Store", "StoreError", "open_store"]
