"""``factsync status SITE`` (or ``--all``): quick to start (cron health checks call it often).

It lives apart from the hours commands so that running it imports neither the write-back worker
nor the FACTS client.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from core.cli.common import db_option, json_option, opened_store, print_json
from core.sites import get_site
from core.writeback.status import site_status


def _local(value: datetime | None) -> str:
    if value is None:
        return "never"
    return f"{value.replace(tzinfo=UTC).astimezone():%Y-%m-%d %H:%M}"


def register(cli: click.Group) -> None:
    """Add this module's command to ``cli``."""

    @cli.command("status")
    @click.argument("site", required=False)
    @click.option("--all", "all_sites", is_flag=True, help="Every site of the store, and the daemon.")
    @db_option
    @json_option
    def status(site: str | None, all_sites: bool, db: str | None, as_json: bool) -> None:
        """A site at a glance (or --all): connection, sync, schedule, holds, pause, write-back."""
        from core.overview import daemons, unattended
        from store.models import Site

        if all_sites == (site is not None):
            raise click.UsageError("name a SITE, or --all for every site")
        with opened_store(db) as store:
            sites = (list(Site.select().order_by(Site.name)) if all_sites
                     else [get_site(store, site or "")])
            bodies: list[dict[str, Any]] = []
            for s in sites:
                st = site_status(s)
                un = unattended(s)
                bodies.append(st.to_json() | un.to_json())
                if not as_json:
                    _print_site(st, un)
            alive = daemons()
            if as_json:
                beat = [d.to_json() for d in alive]
                print_json({"sites": bodies, "daemons": beat} if all_sites
                           else bodies[0] | {"daemons": beat})
                return
            if alive:
                for d in alive:
                    click.echo(f"daemon {d.holder}: heartbeat {_local(d.beat_at)}, up since "
                               f"{_local(d.started_at)}")
            else:
                click.echo("daemon: none running (factsync daemon)")

    def _print_site(st: Any, un: Any) -> None:
        def yn(value: bool | None) -> str:
            return "not checked" if value is None else ("yes" if value else "no")

        click.echo(f"site {st.site}  plan={st.plan}  kind={st.kind or '-'}")
        if un.pause is not None:
            click.echo(f"  PAUSED: {un.pause.words()} (write-back goes on)")
        if not st.connected:
            click.echo("  FACTS: not connected")
        else:
            checked = f"{st.checked_at:%Y-%m-%d %H:%M}" if st.checked_at else "never"
            click.echo(f"  FACTS: {st.base_url} ({st.facts_plan} plan), checked {checked}")
            click.echo(
                f"  People read: {yn(st.people_read)}  People write: {yn(st.people_write)}"
                f"  Academics read: {yn(st.academics_read)}"
            )
        click.echo(
            "  write-back: on" if st.writeback_enabled else f"  write-back: OFF: {st.writeback_reason}"
        )
        click.echo(
            "  hour syncing: on" if st.hour_sync
            else f"  hour syncing: off ('factsync hours syncing {st.site} on' to send hours)"
        )
        if st.quota_until:
            click.echo(f"  write-back paused: FACTS's daily call quota is used up; resumes at "
                       f"{st.quota_until:%Y-%m-%d %H:%M} UTC")
        if st.duplicates_in_facts or st.mismatches:
            click.echo(f"  found in FACTS: {st.duplicates_in_facts} entries with duplicate "
                       f"rows, {st.mismatches} with other hours or date than sent "
                       f"('factsync writeback audit {st.site}' lists them)")
        last = f"{st.last_sync_at:%Y-%m-%d %H:%M}" if st.last_sync_at else "never"
        click.echo(
            f"  last sync: {last}  accounts: {st.accounts_active} active, "
            f"{st.accounts_linked} linked"
        )
        click.echo(f"  schedule: {un.schedule or 'none'}"
                   + (f", next run {_local(un.next_run)}" if un.next_run else "")
                   + f"; archive threshold {un.archive_threshold}")
        if un.open_holds:
            click.echo(f"  held: {un.open_holds} hold(s), {un.held_rows} archive(s) wait for a "
                       f"person: {un.hold_reason} (factsync holds {st.site!r})")
        o = st.outbox
        click.echo(
            f"  outbox: pending {o['pending']}, sent {o['sent']}, failed {o['failed']}"
            + (f"; {st.waiting_for_link} approved entries wait for a link" if st.waiting_for_link else "")
        )
        for name, job in sorted(un.jobs.items()):
            if job.last_at is not None:
                click.echo(f"  last {name} run: {_local(job.last_at)}, exit {job.code}"
                           + (f": {job.message}" if job.message else ""))
        if st.last_error:
            e = st.last_error
            click.echo(f"  last write-back error (entry {e.entry_id}, {e.email}): {e.error}")
