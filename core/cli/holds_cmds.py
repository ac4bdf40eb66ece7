"""Holds and pauses: what waits for a person, and a site's sync paused on purpose.

``factsync holds SITE`` lists the open holds; ``holds approve SITE HOLD`` applies one (planned
again against the roster as it is now, asked first), ``holds reject SITE HOLD`` drops it.
``factsync pause SITE --until DATE --reason TEXT`` and ``resume SITE``.
"""

from __future__ import annotations

import asyncio

import click

from core.cli.common import (
    ROW_ID,
    confirm,
    db_option,
    json_option,
    opened_store,
    print_json,
)
from core.sites import get_site


def _who() -> str:
    from core.actor import current_actor

    return current_actor().words()


class HoldsGroup(click.Group):
    """``holds SITE`` lists; ``holds approve|reject SITE HOLD`` decide."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["list", *args]
        return super().parse_args(ctx, args)


def register(cli: click.Group) -> None:
    """Add this module's commands to ``cli``."""

    @cli.group("holds", cls=HoldsGroup)
    def holds_group() -> None:
        """What waits for a person: 'holds SITE' lists, 'holds approve|reject SITE HOLD'."""

    @holds_group.command("list")
    @click.argument("site")
    @click.option("--all", "all_states", is_flag=True, help="Approved and rejected ones too.")
    @db_option
    @json_option
    def holds_list(site: str, all_states: bool, db: str | None, as_json: bool) -> None:
        """The site's holds, newest first, each with its id, reason, createdAt and rows."""
        from core.sync import service

        with opened_store(db) as store:
            found = service.holds(store, site, all_states=all_states)
            if as_json:
                print_json([h.to_json() for h in found])
                return
            if not found:
                click.echo(f"{site}: nothing held")
            for h in found:
                click.echo(f"hold {h.id}  {h.state}  {h.created_at:%Y-%m-%d %H:%M}  "
                           f"{len(h.rows)} archive(s): {h.reason}")
                for r in h.rows[:20]:
                    click.echo(f"    {r.name} <{r.email or 'no email'}>: {r.reason}")
                if len(h.rows) > 20:
                    click.echo(f"    ... and {len(h.rows) - 20} more (--json lists all)")
                if h.state == "open":
                    click.echo(f"  factsync holds approve {site!r} {h.id}  (or reject)")

    @holds_group.command("approve")
    @click.argument("site")
    @click.argument("hold_id", metavar="HOLD", type=ROW_ID)
    @click.option("--yes", "-y", is_flag=True, help="Non-interactive: do not ask.")
    @db_option
    @json_option
    def holds_approve(site: str, hold_id: int, yes: bool, db: str | None, as_json: bool) -> None:
        """Apply a hold's archives, planned again with the roster as FACTS has it now."""
        from core.sync import service
        from core.sync.holds import require_open

        with opened_store(db) as store:
            hold = require_open(get_site(store, site), hold_id)
            confirm(f"Archive the {len(hold.rows)} account(s) of hold {hold_id} ({hold.reason})?",
                    yes)
            run = asyncio.run(service.approve_hold(store, site, hold_id, by=_who()))
            if as_json:
                print_json({"hold": hold_id, "run": run.number, "archived": len(hold.rows)})
                return
            click.echo(f"hold {hold_id} approved: {len(hold.rows)} account(s) archived in run "
                       f"{run.number} ('factsync undo {site}' reverts it)")

    @holds_group.command("reject")
    @click.argument("site")
    @click.argument("hold_id", metavar="HOLD", type=ROW_ID)
    @click.option("--yes", "-y", is_flag=True, help="Non-interactive: do not ask.")
    @db_option
    @json_option
    def holds_reject(site: str, hold_id: int, yes: bool, db: str | None, as_json: bool) -> None:
        """Drop a hold: its accounts stay active, and the same archives are not held again."""
        from core.sync import service
        from core.sync.holds import require_open

        with opened_store(db) as store:
            hold = require_open(get_site(store, site), hold_id)
            confirm(f"Reject hold {hold_id} ({len(hold.rows)} archive(s) will not be made)?", yes)
            done = service.reject_hold(store, site, hold_id, by=_who())
            if as_json:
                print_json(done.to_json())
                return
            click.echo(f"hold {hold_id} rejected: its {len(done.rows)} account(s) stay active")

    @cli.command("pause")
    @click.argument("site")
    @click.option("--until", "until", default=None, metavar="DATE",
                  help="YYYY-MM-DD: the pause ends that day (none: until 'resume').")
    @click.option("--reason", required=True, help="Why (shown by status, Home and every run).")
    @db_option
    @json_option
    def pause(site: str, until: str | None, reason: str, db: str | None, as_json: bool) -> None:
        """Pause the site's sync and archives (e.g. a year-end rollover); write-back goes on."""
        from core import site_settings

        with opened_store(db) as store:
            s = get_site(store, site)
            p = site_settings.pause(store, s, site_settings.parse_until(until) if until else None,
                                    reason)
            if as_json:
                print_json({"site": site, "paused": p.to_json()})
                return
            click.echo(f"{site}: {p.words()} (write-back goes on; 'factsync resume {site}' ends it)")

    @cli.command("resume")
    @click.argument("site")
    @db_option
    @json_option
    def resume(site: str, db: str | None, as_json: bool) -> None:
        """End a pause: the site syncs again."""
        from core import site_settings

        with opened_store(db) as store:
            was = site_settings.resume(store, get_site(store, site))
            if as_json:
                print_json({"site": site, "resumed": was})
                return
            click.echo(f"{site}: resumed" if was else f"{site}: was not paused")
