"""Store failures as one sentence an admin can act on: disk full, read-only, damaged, locked.

SQLite reports them as ``sqlite3``/peewee errors with terse texts; :func:`store_error` turns any
of them into a :class:`StoreError` naming the store file and what to do. SQLite's transactions
mean nothing is half-written: the failed command changed nothing.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import peewee as pw

DATABASE_ERRORS: tuple[type[BaseException], ...] = (sqlite3.Error, pw.DatabaseError)


class StoreError(Exception):
    """The store cannot be used as it is; ``str(err)`` says why and what to do."""


def _chain(exc: BaseException) -> list[BaseException]:
    """The error and those it happened while handling: SQLite rolls back a transaction itself
    on a full disk, and the rollback peewee then tries ("no transaction is active") hides why."""
    out: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in out:
        out.append(current)
        current = current.__cause__ or current.__context__
    return out


def store_error(exc: BaseException, path: Path | str | None) -> StoreError:
    """The StoreError for a database failure of the store at ``path``."""
    where = f"The store {path}" if path else "The store"
    text = " | ".join(str(e).lower() for e in _chain(exc))
    if "disk is full" in text or "database or disk is full" in text:
        why = "cannot grow: the disk holding it is full. Free some space, then run the command again"
    elif "readonly" in text or "read-only" in text:
        why = (
            "is read-only. Make the file and its folder writable for this user (or use another "
            "--db), then run the command again"
        )
    elif "locked" in text or "busy" in text:
        why = (
            "is locked by another factsync process (busy for more than 10 s). Wait for it to "
            "finish, then run the command again"
        )
    elif "not a database" in text or "malformed" in text or "corrupt" in text:
        why = (
            "is damaged (it is not a readable SQLite database). Restore it from a backup, or move "
            "it away and start a new store"
        )
    elif "unable to open" in text:
        why = (
            "cannot be opened. Check that the file and its folder exist and can be read and "
            "written by this user"
        )
    elif "disk i/o" in text:
        why = "could not be read or written (a disk I/O error). Check the disk, then try again"
    else:
        why = f"failed ({exc}). Run the command again; if it keeps failing, restore a backup"
    return StoreError(f"{where} {why}. Nothing was changed.")
