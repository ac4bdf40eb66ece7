"""``factsync status SITE``: a site at a glance, quick to start (cron health checks call it often).

It lives apart from the hours commands so that running it imports neither the write-back worker
nor the FACTS client.
"""

from __future__ import annotations

import click

from core.cli.common import db_option, json_option, opened_store, print_json
from core.sites import SiteError, get_site
from core.writeback.status import site_status


def register(cli: click.Group) -> None:
    """Add this module's command to ``cli``."""

    @cli.command("status")
    @click.argument("site")
    @db_option
    @json_option
    def status(site: str, db: str | None, as_json: bool) -> None:
        """Connection, permissions, last sync, write-back queue and last write-back error."""
        with opened_store(db, SiteError) as store:
            st = site_status(get_site(store, site))
            if as_json:
                print_json(st.to_json())
                return

            def yn(value: bool | None) -> str:
                return "not checked" if value is None else ("yes" if value else "no")

            click.echo(f"site {st.site}  plan={st.plan}  kind={st.kind or '-'}")
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
            o = st.outbox
            click.echo(
                f"  outbox: pending {o['pending']}, sent {o['sent']}, failed {o['failed']}"
                + (f"; {st.waiting_for_link} approved entries wait for a link" if st.waiting_for_link else "")
            )
            if st.last_error:
                e = st.last_error
                click.echo(f"  last write-back error (entry {e.entry_id}, {e.email}): {e.error}")
