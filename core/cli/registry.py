"""Where each ``factsync`` command lives, and its help line: commands are imported when they run.

Importing every command module made each process load the whole engine (pydantic models, httpx,
the FACTS client): ``factsync --help`` took 0.56 s where click, peewee and sqlite3 take 0.10 s.
:class:`LazyGroup` lists the commands from :data:`COMMANDS` and imports a command's module (whose
``register`` adds its commands) only when that command is asked for.

A command added to a module needs its line here: tests/test_cli_registry.py checks that the lines
match the commands both ways, help text included.
"""

from __future__ import annotations

import importlib

import click

COMMANDS: dict[str, tuple[str, str]] = {
    "accounts": (
        "core.cli.sync_cmds",
        "Site accounts: 'accounts SITE' lists them, 'accounts add SITE' adds one by hand.",
    ),
    "alerts": (
        "core.cli.daemon_cmds",
        "Where a site's alerts go: 'alerts SITE --email ADDR --webhook URL', 'alerts test SITE'.",
    ),
    "conflicts": (
        "core.cli.sync_cmds",
        "Open conflicts (read from FACTS now) with the choices that resolve each.",
    ),
    "connect": (
        "core.cli.sync_cmds",
        "Check the FACTS keys (from the environment or a hidden prompt), then save them.",
    ),
    "daemon": (
        "core.cli.daemon_cmds",
        "Run every site's scheduled sync and write-back, with alerts, until stopped.",
    ),
    "decide": ("core.cli.sync_cmds", "Save a conflict decision, reused by every later sync."),
    "decisions": (
        "core.cli.sync_cmds",
        "The saved conflict decisions ('decide --clear' removes one).",
    ),
    "demo": (
        "core.cli.app_cmds",
        "Open the wizard on a fresh demo store, against the in-process sandbox school.",
    ),
    "family": (
        "core.cli.sync_cmds",
        "Family groupings and per-family include/exclude overrides.",
    ),
    "holds": (
        "core.cli.holds_cmds",
        "What waits for a person: 'holds SITE' lists, 'holds approve|reject SITE HOLD'.",
    ),
    "history": (
        "core.cli.sync_cmds",
        "Runs of the site (newest first), or the changes of one run.",
    ),
    "forget": (
        "core.cli.forget_cmd",
        "Remove one person's email and names from a site; their hours stay, anonymous.",
    ),
    "hours": (
        "core.cli.hours_cmds",
        "Volunteer hours: 'factsync hours SITE' lists them; subcommands change them.",
    ),
    "invites": ("core.cli.sync_cmds", "New accounts not invited yet: email, names, family."),
    "merge": (
        "core.cli.sync_cmds",
        "Merge two accounts: hours move to the kept one, the other is archived (journaled).",
    ),
    "pause": (
        "core.cli.holds_cmds",
        "Pause the site's sync and archives (e.g. a year-end rollover); write-back goes on.",
    ),
    "resume": ("core.cli.holds_cmds", "End a pause: the site syncs again."),
    "sandbox": (
        "core.cli.sandbox_cmd",
        "The sandbox FACTS SIS: a generated school behind a FACTS-compatible API.",
    ),
    "serve": (
        "core.cli.app_cmds",
        "Offer the wizard in a browser with textual-serve, e.g. for a shared support session.",
    ),
    "setup": (
        "core.cli.sync_cmds",
        "Save the site's criteria (later calls change only what they name).",
    ),
    "site": ("core.cli.sync_cmds", "Volunteer-hours sites: each rosters students or parents."),
    "status": (
        "core.cli.status_cmd",
        "A site at a glance (or --all): connection, sync, schedule, holds, pause, write-back.",
    ),
    "sync": ("core.cli.sync_cmds", "Fetch, plan and apply with the saved setup."),
    "undo": (
        "core.cli.sync_cmds",
        "Revert the latest sync or merge of the site (says which, and asks first).",
    ),
    "wizard": (
        "core.cli.app_cmds",
        "Open the wizard on the configured store (what 'factsync' alone does).",
    ),
    "writeback": (
        "core.cli.hours_cmds",
        "Write-back to FACTS: 'factsync writeback SITE' sends; 'writeback audit SITE' checks.",
    ),
}
"""Command name -> (the module whose ``register`` adds it, the help line ``--help`` shows)."""


class LazyGroup(click.Group):
    """A group that knows its commands by name and imports each one's module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.load(COMMANDS[cmd_name][0])
        return self.commands.get(cmd_name)

    def load(self, module_name: str) -> None:
        """Import a command module and let it add its commands (each module once)."""
        loaded = self.__dict__.setdefault("_loaded", set())
        if module_name not in loaded:
            loaded.add(module_name)
            before = set(self.commands)
            importlib.import_module(module_name).register(self)
            from core.cli.common import add_global_options

            for name in set(self.commands) - before:
                add_global_options(self.commands[name])

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from the help lines alone, laid out as click lays out commands."""
        listed = click.Group(
            commands=[
                self.commands.get(name) or click.Command(name, help=COMMANDS[name][1])
                for name in self.list_commands(ctx)
            ]
        )
        listed.format_commands(ctx, formatter)
