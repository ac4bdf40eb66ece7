"""The contract every command keeps: global options, exit codes, JSON, errors, confirmations.

- Global options ``--db``, ``--json`` and ``--timeout`` work before the subcommand and after it
  (:func:`add_global_options` gives every command the ones it lacks; their values meet in the
  context's ``meta``).
- Exit codes: 0 done, nothing new waits; 1 error, nothing half-applied; 2 usage; 3 attention:
  something new waits for a person (or a confirmation was refused).
- :func:`error_of` is the one place an exception becomes (exit code, camelCase error code,
  message); ``FactsyncGroup`` prints it as ``error: ...`` on stderr, or with ``--json`` as
  ``{"error": {"code", "message"}}`` on stdout.
- :func:`print_json` gives every snake_case key a camelCase twin (the keys earlier issues fixed
  stay).
- :func:`confirm` asks on a terminal and refuses without one unless ``--yes``.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import re
import sys
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, TypeVar

import click

from store import Store, open_store

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_ATTENTION = 3
EXIT_NEEDS_DECISION = EXIT_ATTENTION

F = TypeVar("F", bound=Callable[..., Any])

FACTS_ID = click.IntRange(0, 2**31 - 1)
"""A FACTS id (personId, familyId): an int32; a longer number is a usage error, not an overflow."""
ROW_ID = click.IntRange(1, 2**63 - 1)
"""An id of factsync's store (entry, run): what SQLite can hold."""


# --- how a command ends -----------------------------------------------------------------------


class Outcome(Exception):
    """A command ends other than in success: its exit code, error code and sentence."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR, code: str | None = None,
                 *, printed: bool = False) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.code = code or {EXIT_USAGE: "usage", EXIT_ATTENTION: "attention"}.get(exit_code,
                                                                                  "error")
        self.printed = printed
        """The command printed its result already (the exit code alone is left to give)."""


def fail(message: str, code: int = EXIT_ERROR, error_code: str | None = None) -> NoReturn:
    """End the command with ``message`` and exit ``code`` (printed by the group)."""
    raise Outcome(message, code, error_code)


def finish(code: int) -> NoReturn:
    """End a command that printed its own result with exit ``code`` (0 returns normally)."""
    raise Outcome("", code, printed=True)


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _class_code(err: BaseException) -> str:
    name = type(err).__name__
    return name[:1].lower() + name[1:]


def cli_hint(err: BaseException) -> str:
    """The command-line wording core leaves out: which command or flag resolves ``err``."""
    from core.connection import NotConnected
    from core.sync.service import NoSetup

    if isinstance(err, NoSetup):
        return " (factsync setup SITE --kind students|parents, or the wizard)"
    if isinstance(err, NotConnected):
        return " (factsync connect SITE --base-url URL, or Connect in the wizard)"
    return ""


def error_of(err: BaseException) -> tuple[int, str, str] | None:
    """(exit code, camelCase error code, message) for an error a command may end with; None for
    an exception that is a bug (it keeps its traceback)."""
    from store.errors import DATABASE_ERRORS, StoreError, store_error

    if isinstance(err, Outcome):
        return err.exit_code, err.code, str(err)
    if isinstance(err, click.UsageError):
        return EXIT_USAGE, "usage", err.format_message()
    if isinstance(err, click.Abort):
        return EXIT_ATTENTION, "notConfirmed", "not confirmed: nothing was changed"
    if isinstance(err, StoreError):
        return EXIT_ERROR, "storeError", str(err)
    if isinstance(err, DATABASE_ERRORS):
        from store import db

        return EXIT_ERROR, "storeError", str(store_error(err, db.last_opened))
    from core.facts.errors import FactsError
    from core.sites import SiteError
    from core.sync.apply import SyncError

    if isinstance(err, (FactsError, SiteError, SyncError)):
        return EXIT_ERROR, _class_code(err), str(err) + cli_hint(err)
    return None


def wants_json(ctx: click.Context) -> bool:
    meta = ctx.meta
    return bool(meta.get("factsync.as_json")) or "--json" in meta.get("factsync.argv", ())


def report_error(ctx: click.Context, exit_code: int, code: str, message: str) -> None:
    """Print an error as the contract says: JSON on stdout with --json, a sentence on stderr."""
    if wants_json(ctx):
        print_json({"error": {"code": code, "message": message}})
    else:
        click.echo(f"error: {message}", err=True)


# --- global options -------------------------------------------------------------------------


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """A global option's value, wherever it was given: the last one given wins; a command that
    was not given it gets the root's (or the environment's)."""
    assert param.name is not None
    key = f"factsync.{param.name}"
    source = ctx.get_parameter_source(param.name)
    given = source in (click.core.ParameterSource.COMMANDLINE,
                       click.core.ParameterSource.ENVIRONMENT)
    if given or key not in ctx.meta:
        ctx.meta[key] = value
    if param.name == "timeout" and ctx.meta[key] is not None:
        from core.facts.deadline import set_timeout

        set_timeout(float(ctx.meta[key]))
    return ctx.meta[key]


def _db(expose: bool = True, envvar: str | None = None) -> click.Option:
    return click.Option(["--db", "db"], type=click.Path(dir_okay=False), envvar=envvar,
                        default=None, callback=_remember, expose_value=expose, is_eager=True,
                        help="Store file (default: $FACTSYNC_DB, else the user data dir).")


def _json(expose: bool = True) -> click.Option:
    return click.Option(["--json", "as_json"], is_flag=True, default=False, callback=_remember,
                        expose_value=expose, is_eager=True,
                        help="Print machine-readable JSON (errors too).")


def _timeout(expose: bool = False, default: float | None = None) -> click.Option:
    return click.Option(["--timeout", "timeout"], type=click.FloatRange(min=0.1), default=default,
                        callback=_remember, expose_value=expose, is_eager=True,
                        metavar="SECONDS",
                        help="Give up on an unreachable FACTS after this long (default 30).")


ROOT_OPTIONS = (_db(envvar="FACTSYNC_DB"), _json(), _timeout(default=30.0))
"""The root group's global options (their values reach every command)."""

GLOBAL_NAMES = ("db", "as_json", "timeout")
LONG_RUNNING = frozenset({"wizard", "demo", "serve", "daemon"})
"""Commands that run until stopped (a screen, a server): their output is never held back."""


def db_option(func: F) -> F:
    """``--db PATH``; given before the subcommand, ``FACTSYNC_DB`` or the user data dir else."""
    params = func.__dict__.setdefault("__click_params__", [])
    params.append(_db())
    return func


def json_option(func: F) -> F:
    params = func.__dict__.setdefault("__click_params__", [])
    params.append(_json())
    return func


def _text_as_json(callback: Callable[..., Any]) -> Callable[..., Any]:
    """A command without JSON of its own answers ``--json`` with its lines: ``{"output": [...]}``
    (prompts and warnings stay on stderr)."""

    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        if not wants_json(ctx):
            return callback(*args, **kwargs)
        buffer = io.StringIO()
        try:
            with contextlib.redirect_stdout(buffer):
                result = callback(*args, **kwargs)
        except Outcome as out:
            if out.printed:
                print_json({"output": buffer.getvalue().splitlines()})
            raise
        print_json({"output": buffer.getvalue().splitlines()})
        return result

    return run


def add_global_options(command: click.Command) -> None:
    """Give ``command`` (and its subcommands) the global options it does not declare itself."""
    names = {p.name for p in command.params}
    if ("as_json" not in names and command.callback is not None
            and not isinstance(command, click.Group) and command.name not in LONG_RUNNING):
        command.callback = _text_as_json(command.callback)
    makers: dict[str, Callable[[], click.Option]] = {
        "db": lambda: _db(expose=False), "as_json": lambda: _json(expose=False),
        "timeout": _timeout}
    for name in GLOBAL_NAMES:
        if name not in names:
            command.params.append(makers[name]())
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            add_global_options(sub)


# --- output -----------------------------------------------------------------------------------

_SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")


def with_camel_twins(value: Any) -> Any:
    """``value`` with a camelCase twin beside every snake_case key, at every level."""
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for k, v in value.items():
            v = with_camel_twins(v)
            out[k] = v
            if isinstance(k, str) and _SNAKE.match(k):
                out.setdefault(camel(k), v)
        return out
    if isinstance(value, (list, tuple)):
        return [with_camel_twins(v) for v in value]
    return value


def print_json(value: Any) -> None:
    click.echo(json.dumps(with_camel_twins(value), indent=2, default=str, ensure_ascii=False))


# --- confirmations ------------------------------------------------------------------------------


def confirm(question: str, yes: bool) -> None:
    """Go on when ``yes`` (``--yes``) or when the person at the terminal says yes; without a
    terminal, refuse: exit 3, nothing changed."""
    if yes:
        return
    if not sys.stdin.isatty():
        fail(f"{question.rstrip('?. ')}: not done without a confirmation. Nothing was changed; "
             "run it again with --yes to confirm.", EXIT_ATTENTION, "confirmationNeeded")
    if not click.confirm(question, default=False, err=True):
        fail("not confirmed: nothing was changed", EXIT_ATTENTION, "notConfirmed")


@contextlib.contextmanager
def opened_store(db: str | None, *refusals: type[Exception]) -> Iterator[Store]:
    """Open the store for one command (refusals are reported by the group's contract)."""
    store = open_store(db)
    try:
        yield store
    finally:
        store.close()
