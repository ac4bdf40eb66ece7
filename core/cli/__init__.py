"""The ``factsync`` command line: every headless action, for cron, scripts and tests.

Each command group lives in its own module; :mod:`core.cli.registry` names the module of each
command, which is imported only when that command runs. Exit codes and JSON are one contract for
every command (:mod:`core.cli.common`): 0 done and nothing new waits, 1 error, 2 usage, 3 attention
(something new waits for a person).
"""

from __future__ import annotations

from typing import Any

import click

from core.cli.app_cmds import WALKTHROUGH_HELP
from core.cli.common import ROOT_OPTIONS, Outcome, error_of, report_error
from core.cli.registry import LazyGroup


class FactsyncGroup(LazyGroup):
    """The one place every command's failure becomes its exit code and its message: a store
    failure (disk full, read-only, damaged, locked), FACTS unreachable or refusing, a domain
    refusal or a usage error ends in one clear sentence (JSON with ``--json``), never a
    traceback."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["factsync.argv"] = tuple(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Outcome as out:
            if not out.printed:
                report_error(ctx, out.exit_code, out.code, str(out))
            ctx.exit(out.exit_code)
        except click.exceptions.Exit:
            raise
        except Exception as exc:  # noqa: BLE001 - sorted by error_of; bugs are re-raised
            known = error_of(exc)
            if known is None:
                raise
            code, name, message = known
            report_error(ctx, code, name, message)
            ctx.exit(code)


@click.group(
    cls=FactsyncGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    params=list(ROOT_OPTIONS),
)
@click.option("--walkthrough", is_flag=True, help=WALKTHROUGH_HELP)
@click.pass_context
def cli(ctx: click.Context, walkthrough: bool, db: str | None, as_json: bool) -> None:
    """factsync: roster FACTS SIS students or parents into a volunteer-hours site."""
    if ctx.invoked_subcommand is None:
        wizard = cli.get_command(ctx, "wizard")
        assert wizard is not None
        ctx.invoke(wizard, walkthrough=walkthrough, db=db)


def main() -> None:
    cli(prog_name="factsync")
