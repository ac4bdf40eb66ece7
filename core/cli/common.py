"""Pieces every command shares: --db, --json, exit codes and error reporting."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import click

from store import Store, open_store

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NEEDS_DECISION = 3

F = TypeVar("F", bound=Callable[..., Any])

FACTS_ID = click.IntRange(0, 2**31 - 1)
"""A FACTS id (personId, familyId): an int32; a longer number is a usage error, not an overflow."""
ROW_ID = click.IntRange(1, 2**63 - 1)
"""An id of factsync's store (entry, run): what SQLite can hold."""


def db_option(func: F) -> F:
    """``--db PATH`` on every command; ``FACTSYNC_DB`` or the user data dir otherwise."""
    return click.option(
        "--db",
        "db",
        type=click.Path(dir_okay=False),
        envvar="FACTSYNC_DB",
        default=None,
        help="Store file (default: $FACTSYNC_DB, else the user data dir).",
    )(func)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")(
        func
    )


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str, ensure_ascii=False))


def cli_hint(err: BaseException) -> str:
    """The command-line wording core leaves out: which command or flag resolves ``err``."""
    from core.connection import NotConnected
    from core.sync.apply import ArchiveConfirmationNeeded
    from core.sync.service import NoSetup

    if isinstance(err, NoSetup):
        return " (factsync setup SITE --kind students|parents, or the wizard)"
    if isinstance(err, NotConnected):
        return " (factsync connect SITE --base-url URL, or Connect in the wizard)"
    if isinstance(err, ArchiveConfirmationNeeded):
        return " Run again with --confirm-archive to archive them."
    return ""


def fail(message: str, code: int = EXIT_ERROR) -> None:
    """Print a clear message on stderr and exit with ``code``."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@contextlib.contextmanager
def opened_store(db: str | None, *refusals: type[Exception]) -> Iterator[Store]:
    """Open the store for one command; a domain refusal becomes 'error: ...' and exit 1."""
    store = open_store(db)
    try:
        yield store
    except refusals as err:
        fail(str(err))
    finally:
        store.close()
