"""``factsync daemon`` and ``factsync alerts``: running unattended, and being told when it fails.

``alerts SITE --email ADDR... --webhook URL`` saves where a site's alerts go (``alerts SITE``
alone shows it); ``alerts test SITE`` sends a test on every channel; ``alerts login`` keeps the
SMTP login in the secrets file (asked with a hidden prompt, never on argv).
"""

from __future__ import annotations

import sys
from datetime import datetime

import click

from core.cli.common import db_option, fail, json_option, opened_store, print_json
from core.sites import get_site


def _log(line: str) -> None:
    click.echo(f"{datetime.now().isoformat(sep=' ', timespec='milliseconds')} {line}")
    sys.stdout.flush()


class AlertsGroup(click.Group):
    """``alerts SITE [--email ...]`` shows or sets; ``alerts test SITE``; ``alerts login``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["set", *args]
        return super().parse_args(ctx, args)


def register(cli: click.Group) -> None:
    """Add this module's commands to ``cli``."""

    @cli.command("daemon")
    @click.option("--tick", "tick_s", type=click.FloatRange(min=0.05), default=1.0, hidden=True,
                  help="Seconds between looks at the schedules (tests use less).")
    @click.option("--writeback-every", "writeback_s", type=click.FloatRange(min=0.05),
                  default=10.0, hidden=True, help="Seconds between looks at a site's outbox.")
    @db_option
    def daemon(tick_s: float, writeback_s: float, db: str | None) -> None:
        """Run every site's scheduled sync and write-back, with alerts, until stopped.

        Schedules: 'factsync setup SITE --schedule "0 2 * * *"'. SIGTERM finishes the current
        transaction and exits 0. Two daemons on one store never sync one site at once."""
        from core.daemon import run_daemon

        with opened_store(db) as store:
            code = run_daemon(store, _log, tick_s=tick_s, writeback_s=writeback_s)
        sys.exit(code)

    @cli.group("alerts", cls=AlertsGroup)
    def alerts_group() -> None:
        """Where a site's alerts go: 'alerts SITE --email ADDR --webhook URL', 'alerts test SITE'."""

    @alerts_group.command("set")
    @click.argument("site")
    @click.option("--email", "emails", multiple=True, metavar="ADDR",
                  help="Send alerts to this address (repeat; replaces the saved list).")
    @click.option("--webhook", default=None, metavar="URL",
                  help="POST alerts as JSON to this URL (\"\" removes it; default "
                       "$FACTSYNC_WEBHOOK_URL).")
    @click.option("--no-email", is_flag=True, help="Send no alert emails.")
    @db_option
    @json_option
    def alerts_set(site: str, emails: tuple[str, ...], webhook: str | None, no_email: bool,
                   db: str | None, as_json: bool) -> None:
        """Show or save where the site's alerts go (email over SMTP, a webhook)."""
        from core import alerts, site_settings

        if no_email and emails:
            raise click.UsageError("use one of --email and --no-email")
        with opened_store(db) as store:
            s = get_site(store, site)
            if emails or no_email or webhook is not None:
                site_settings.set_alerts(store, s, [] if no_email else (list(emails) or None), webhook)
            cfg = site_settings.settings(s)
            where = alerts.channels(store, s)
            if as_json:
                print_json({"site": site, "emails": list(cfg.alert_emails),
                            "webhook": cfg.alert_webhook is not None, "channels": where})
                return
            click.echo(f"{site}: alerts go to " + ("; ".join(where) if where else "nowhere yet"
                                                    " (--email ADDR, --webhook URL)"))

    @alerts_group.command("test")
    @click.argument("site")
    @db_option
    @json_option
    def alerts_test(site: str, db: str | None, as_json: bool) -> None:
        """Send a test alert on every channel of the site."""
        from core import alerts

        with opened_store(db) as store:
            sent, warnings = alerts.test_alert(store, get_site(store, site))
            if not sent:
                fail(f"site {site!r} has no alert channel: factsync alerts {site} --email ADDR "
                     "or --webhook URL", error_code="noAlertChannel")
            if as_json:
                print_json({"site": site, "channels": sent, "warnings": warnings})
            else:
                for w in warnings:
                    click.echo(f"warning: {w}", err=True)
                if len(warnings) < len(sent):
                    click.echo(f"test alert sent: {'; '.join(sent)}")
            if warnings:
                fail("; ".join(warnings), error_code="alertFailed")

    @alerts_group.command("login")
    @db_option
    def alerts_login(db: str | None) -> None:
        """Keep the SMTP login in the secrets file beside the store (asked, never on argv)."""
        from core.alerts import SECRET_PASSWORD, SECRET_USER

        user = click.prompt("SMTP user", err=True)
        password = click.prompt("SMTP password", hide_input=True, err=True)
        with opened_store(db) as store:
            store.secrets.put(SECRET_USER.removeprefix("file:"), user.strip())
            store.secrets.put(SECRET_PASSWORD.removeprefix("file:"), password)
            click.echo(f"SMTP login saved in {store.secrets.path}")
