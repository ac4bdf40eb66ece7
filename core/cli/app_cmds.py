"""Commands that open the Textual app: the wizard, the demo, and the browser (textual-serve).

Textual is imported inside the command functions so that ``core`` stays headless: importing this
module (as the CLI does for every command) loads click only.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from core.cli.common import db_option

WALKTHROUGH_HELP = (
    "Start with the walkthrough on: every step explains itself in plain words and shows the "
    "keys pressed (F2 toggles it)."
)


F = TypeVar("F", bound=Callable[..., Any])


def _walkthrough_option(func: F) -> F:
    return click.option("--walkthrough", is_flag=True, help=WALKTHROUGH_HELP)(func)


def run_wizard(db: str | Path | None, *, walkthrough: bool = False) -> None:
    """Open the wizard on the store at ``db`` (None: the configured store)."""
    from tui.app import make_app

    make_app(db, walkthrough=walkthrough).run()


@click.command("wizard")
@db_option
@_walkthrough_option
def wizard(db: str | None, walkthrough: bool) -> None:
    """Open the wizard on the configured store (what 'factsync' alone does)."""
    run_wizard(db, walkthrough=walkthrough)


@click.command("demo")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False),
    default=None,
    help="Where to create the demo store (default: a new temporary directory).",
)
@_walkthrough_option
def demo(directory: str | None, walkthrough: bool) -> None:
    """Open the wizard on a fresh demo store, against the in-process sandbox school."""
    from core.demo import build_demo_store

    path = build_demo_store(directory)
    click.echo(f"demo store: {path}", err=True)
    run_wizard(path, walkthrough=walkthrough)
    click.echo(f"demo store kept at {path} (delete it when done)", err=True)


LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    """Only this machine can reach ``host`` (a LAN name or 0.0.0.0 is not loopback)."""
    import ipaddress

    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


USERS_HELP = ("Logins for the browser: a file of name + password hash made by 'factsync serve "
              "users add NAME' (default $FACTSYNC_SERVE_USERS).")


@click.group("serve", invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (loopback by default). Any other address needs a login: "
                   "--users FILE or $FACTSYNC_SERVE_PASSWORD (one shared 'support' login).")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--demo", "use_demo", is_flag=True,
              help="Serve a fresh demo store (created once, shared by every browser tab).")
@click.option("--users", "users_file", type=click.Path(dir_okay=False), default=None,
              envvar="FACTSYNC_SERVE_USERS", help=USERS_HELP)
@db_option
@_walkthrough_option
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, use_demo: bool, users_file: str | None,
          db: str | None, walkthrough: bool) -> None:
    """Offer the wizard in a browser with textual-serve, e.g. for a shared support session."""
    if ctx.invoked_subcommand is not None:
        return
    from core.login.gate import LoginGate
    from tui.app import serve as serve_app

    users = _logins(users_file)
    if not users and not is_loopback(host):
        raise click.UsageError(
            f"serving on {host} lets anyone who can reach it use this store: give logins with "
            "--users FILE ('factsync serve users add NAME' makes it) or set "
            "FACTSYNC_SERVE_PASSWORD for one shared 'support' login")
    if use_demo:
        from core.demo import build_demo_store

        db = str(build_demo_store(None))
        click.echo(f"demo store: {db}", err=True)
    argv = [sys.executable, "-c", "from core.cli import main; main()", "wizard"]
    if db:
        argv += ["--db", str(Path(db).resolve())]
    if walkthrough:
        argv.append("--walkthrough")
    login = f" (log in: {', '.join(sorted(users))})" if users else ""
    click.echo(f"factsync in the browser: http://{host}:{port}{login}", err=True)
    serve_app(shlex.join(argv), host=host, port=port, gate=LoginGate(users) if users else None)


def _logins(users_file: str | None) -> dict[str, str]:
    """Name -> hash of every login: the users file's, and the shared support login of
    $FACTSYNC_SERVE_PASSWORD (taken out of the environment: no wizard process inherits it)."""
    import os

    from core.login.passwords import (
        SHARED_LOGIN,
        SHARED_PASSWORD_ENV,
        LoginError,
        check_password,
        hash_password,
        read_users,
    )

    try:
        users = read_users(users_file) if users_file else {}
        shared = os.environ.pop(SHARED_PASSWORD_ENV, "")
        if shared:
            users[SHARED_LOGIN] = hash_password(check_password(shared))
    except LoginError as err:
        raise click.UsageError(str(err)) from None
    return users


@serve.group("users")
def serve_users() -> None:
    """The users file of 'serve --users FILE': add, remove and list logins."""


def _users_option(func: F) -> F:
    return click.option("--users", "users_file", type=click.Path(dir_okay=False),
                        envvar="FACTSYNC_SERVE_USERS", required=True, help=USERS_HELP)(func)


def _ask_password(name: str) -> str:
    """The new password: a hidden prompt, asked twice, on a terminal; else one line of stdin
    (a script pipes it). Never an argument: argv is visible to every user of the host."""
    if sys.stdin.isatty():
        return str(click.prompt(f"Password for {name}", hide_input=True,
                                confirmation_prompt=True, err=True))
    return sys.stdin.readline().rstrip("\r\n")


@serve_users.command("add")
@click.argument("name")
@_users_option
def users_add(name: str, users_file: str) -> None:
    """Add a login (or change its password): the password is asked for, hidden."""
    from core.login.passwords import LoginError, check_name, set_user

    try:
        check_name(name)
        new = set_user(users_file, name, _ask_password(name))
    except LoginError as err:
        raise click.UsageError(str(err)) from None
    click.echo(f"{'added' if new else 'changed the password of'} {name} in {users_file}")


@serve_users.command("remove")
@click.argument("name")
@_users_option
def users_remove(name: str, users_file: str) -> None:
    """Remove a login (its open sessions end when serve restarts)."""
    from core.login.passwords import LoginError, remove_user

    try:
        remove_user(users_file, name)
    except LoginError as err:
        raise click.UsageError(str(err)) from None
    click.echo(f"removed {name} from {users_file}")


@serve_users.command("list")
@_users_option
def users_list(users_file: str) -> None:
    """The login names in the file (never the hashes)."""
    from core.login.passwords import LoginError, read_users

    try:
        names = sorted(read_users(users_file))
    except LoginError as err:
        raise click.UsageError(str(err)) from None
    for name in names:
        click.echo(name)


def register(cli: click.Group) -> None:
    for command in (wizard, demo, serve):
        cli.add_command(command)
