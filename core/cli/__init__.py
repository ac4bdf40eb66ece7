"""The ``factsync`` command line: every headless action, for cron, scripts and tests.

Each command group lives in its own module; :mod:`core.cli.registry` names the module of each
command, which is imported only when that command runs. Exit codes are a public contract: 0 ok,
1 error, 2 usage, 3 needs a decision (conflicts or mass-archive confirmation).
"""

from __future__ import annotations

from typing import Any

import click

from core.cli.app_cmds import WALKTHROUGH_HELP
from core.cli.common import EXIT_ERROR
from core.cli.registry import LazyGroup


class FactsyncGroup(LazyGroup):
    """Every store failure of every command (disk full, read-only, damaged, locked) ends in one
    clear sentence and exit 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from store import db
        from store.errors import DATABASE_ERRORS, StoreError, store_error

        try:
            return super().invoke(ctx)
        except StoreError as err:
            click.echo(f"error: {err}", err=True)
            ctx.exit(EXIT_ERROR)
        except DATABASE_ERRORS as exc:
            click.echo(f"error: {store_error(exc, db.last_opened)}", err=True)
            ctx.exit(EXIT_ERROR)


@click.group(
    cls=FactsyncGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option("--walkthrough", is_flag=True, help=WALKTHROUGH_HELP)
@click.pass_context
def cli(ctx: click.Context, walkthrough: bool) -> None:
    """factsync: roster FACTS SIS students or parents into a volunteer-hours site."""
    if ctx.invoked_subcommand is None:
        wizard = cli.get_command(ctx, "wizard")
        assert wizard is not None
        ctx.invoke(wizard, walkthrough=walkthrough)


def main() -> None:
    cli(prog_name="factsync")
