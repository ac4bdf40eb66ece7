"""Pieces every command shares: --db, --json, exit codes and error reporting."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NEEDS_DECISION = 3

F = TypeVar("F", bound=Callable[..., Any])


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
