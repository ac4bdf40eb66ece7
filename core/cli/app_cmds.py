"""Commands that open the Textual app. Textual is imported lazily so that ``core`` stays headless."""

from __future__ import annotations

import click


@click.command("wizard")
def wizard() -> None:
    """Open the wizard on the configured store."""
    click.echo("The wizard is not built yet.")


def register(cli: click.Group) -> None:
    cli.add_command(wizard)
