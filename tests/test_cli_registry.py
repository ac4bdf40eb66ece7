"""The CLI imports a command's module only when it runs, and ``--help`` still lists every command
with the help line its module gives it (issue 13: cold start)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from core.cli import cli
from core.cli.registry import COMMANDS

MODULES = sorted({module for module, _ in COMMANDS.values()})


def eager() -> click.Group:
    """Every command module registered into a plain group, the way the CLI used to be built."""
    group = click.Group("factsync")
    for name in MODULES:
        importlib.import_module(name).register(group)
    return group


def test_the_registry_names_every_command_its_module_and_its_help_line() -> None:
    group = eager()
    assert sorted(group.commands) == sorted(COMMANDS)
    for name, command in group.commands.items():
        module, line = COMMANDS[name]
        assert command.callback is not None and command.callback.__module__ == module, name
        for limit in (30, 45, 60, 200):
            shown = click.Command(name, help=line).get_short_help_str(limit)
            assert shown == command.get_short_help_str(limit), (name, limit)


def test_help_lists_every_command_as_the_commands_themselves_would() -> None:
    lazy = CliRunner().invoke(cli, ["--help"], terminal_width=80)
    assert lazy.exit_code == 0
    listed = lazy.output.split("Commands:\n", 1)[1]
    ctx = click.Context(eager(), terminal_width=80)
    formatter = ctx.make_formatter()
    ctx.command.format_commands(ctx, formatter)
    assert listed == formatter.getvalue().split("Commands:\n", 1)[1]
    for name in COMMANDS:
        assert f"  {name} " in listed


HEAVY = ("pydantic", "httpx", "core.sync", "core.facts.client", "core.writeback.worker", "textual")


COLD_START = """
import json, sys
from core.cli import main
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(name for name, module in sys.modules.items() if module)), file=sys.stderr)
"""
"""Run one command, then list the modules the process imported (on stderr)."""


@pytest.mark.parametrize("argv", [["--help"], ["status", "pta", "--json", "--db"]])
def test_a_cold_start_imports_only_what_the_command_needs(tmp_path: Path, argv: list[str]) -> None:
    db = str(tmp_path / "s.db")
    if argv[-1] == "--db":
        argv = [*argv, db]
    factsync = [sys.executable, "-c", "from core.cli import main; main()"]
    subprocess.run([*factsync, "site", "add", "pta", "--db", db], check=True, capture_output=True)
    out = subprocess.run([sys.executable, "-c", COLD_START, *argv], check=True,
                         capture_output=True, text=True)
    loaded = json.loads(out.stderr.strip().splitlines()[-1])
    assert [m for m in loaded if m.startswith(HEAVY)] == []
    if argv[0] == "status":
        assert json.loads(out.stdout)["site"] == "pta"
    else:
        assert "writeback" in out.stdout and "status" in out.stdout
