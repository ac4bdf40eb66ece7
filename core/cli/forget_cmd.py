"""``factsync forget SITE --email E``: a data-deletion request (``core.forget``)."""

from __future__ import annotations

import sys

import click

from core.cli.common import confirm, db_option, json_option, opened_store, print_json
from core.sites import get_site


@click.command("forget")
@click.argument("site")
@click.option("--email", required=True,
              help="The email of the person whose data the site forgets (their account, "
                   "accounts merged with it, and every record that shows it).")
@click.option("--yes", "-y", is_flag=True, help="Non-interactive: do not ask.")
@db_option
@json_option
def forget(site: str, email: str, yes: bool, db: str | None, as_json: bool) -> None:
    """Remove one person's email and names from a site; their hours stay, anonymous."""
    from core.forget import forget as forget_person
    from core.forget import forget_preview

    with opened_store(db) as store:
        s = get_site(store, site)
        preview = forget_preview(store, s, email)
        if not yes and sys.stdin.isatty():  # the names go to the terminal only, never to logs
            click.echo(preview.words(), err=True)
        confirm(f"Forget {email.strip()} on site {s.name!r}? It cannot be undone", yes)
        result = forget_person(store, s, email)
        if as_json:
            print_json({"site": s.name, **result.to_json()})
            return
        who = f"account {result.account_ids[0]}" if result.account_ids else "no account"
        click.echo(f"forgot {who} on site {s.name!r}: {sum(result.rewritten.values())} "
                   f"values rewritten; {result.entries} hour entries ({result.approved_hours:g} "
                   f"approved hours) stay under {who}; nothing was sent to FACTS")
        if result.kept_descriptions:
            click.echo(f"  {result.kept_descriptions} hour description(s) that name them are "
                       "kept as FACTS holds them (FACTS is the school's record)")


def register(cli: click.Group) -> None:
    cli.add_command(forget)
