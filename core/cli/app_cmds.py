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


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (loopback by default; a LAN address shares the app).")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--demo", "use_demo", is_flag=True,
              help="Serve a fresh demo store (created once, shared by every browser tab).")
@db_option
@_walkthrough_option
def serve(host: str, port: int, use_demo: bool, db: str | None, walkthrough: bool) -> None:
    """Offer the wizard in a browser with textual-serve, e.g. for a shared support session."""
    from tui.app import serve as serve_app

    if use_demo:
        from core.demo import build_demo_store

        db = str(build_demo_store(None))
        click.echo(f"demo store: {db}", err=True)
    argv = [sys.executable, "-c", "from core.cli import main; main()", "wizard"]
    if db:
        argv += ["--db", str(Path(db).resolve())]
    if walkthrough:
        argv.append("--walkthrough")
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(
            f"warning: serving on {host}: anyone who can reach it can use this store.", err=True
        )
    click.echo(f"factsync in the browser: http://{host}:{port}", err=True)
    serve_app(shlex.join(argv), host=host, port=port)


def register(cli: click.Group) -> None:
    for command in (wizard, demo, serve):
        cli.add_command(command)
