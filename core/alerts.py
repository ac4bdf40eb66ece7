"""Alerts: one message per new condition of a site's job, one on recovery, never a nightly repeat.

After every unattended run (the daemon, ``sync``, ``writeback``) :func:`after_run` records the
outcome on the site's job state and compares its condition with the one last alerted:

- a failure (exit 1) or something new waiting (exit 3) that was not alerted yet: one alert;
- the same condition again: nothing (the admin knows);
- back to normal after a failure: one "recovered" alert.

Channels: email over SMTP (``FACTSYNC_SMTP_URL``, e.g. ``smtp://mail.school.org:587``; STARTTLS
whenever the server offers it; the login from ``FACTSYNC_SMTP_USER``/``FACTSYNC_SMTP_PASSWORD``,
the URL, or the secrets file beside the store, never from argv, never logged) to the site's
addresses, and a JSON POST to the site's webhook or ``FACTSYNC_WEBHOOK_URL``. A channel that
fails is reported back as a warning; it never fails the run.
"""

from __future__ import annotations

import ipaddress
import os
import smtplib
import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote, urlsplit

from core.jobs import ERROR, OK, JobOutcome
from store import Store
from store.models import JobState, Site, utcnow

SMTP_URL = "FACTSYNC_SMTP_URL"
WEBHOOK_URL = "FACTSYNC_WEBHOOK_URL"
SMTP_USER = "FACTSYNC_SMTP_USER"
SMTP_PASSWORD = "FACTSYNC_SMTP_PASSWORD"
ALERT_FROM = "FACTSYNC_ALERT_FROM"
SECRET_USER = "file:smtp-user"
SECRET_PASSWORD = "file:smtp-password"


@dataclass(frozen=True)
class Alert:
    site: str
    job: str
    status: str
    """failed | attention | recovered | test"""
    exit_code: int
    code: str | None
    message: str
    lines: tuple[str, ...]
    at: datetime

    @property
    def subject(self) -> str:
        what = {"failed": f"{self.job} failed", "attention": f"{self.job} needs attention",
                "recovered": f"{self.job} works again", "test": "test alert"}[self.status]
        return f"[factsync] {self.site}: {what}"

    def body(self) -> str:
        local = self.at.replace(tzinfo=UTC).astimezone()
        text = [f"{self.subject.removeprefix('[factsync] ')} at {local:%Y-%m-%d %H:%M} on "
                f"{socket.gethostname()}.", "", self.message, "", *self.lines]
        return "\n".join(text).strip() + "\n"

    def to_json(self) -> dict[str, Any]:
        return {"site": self.site, "job": self.job, "status": self.status,
                "exitCode": self.exit_code, "code": self.code, "message": self.message,
                "lines": list(self.lines), "at": self.at.isoformat() + "Z",
                "host": socket.gethostname()}


def _state(site: Site, job: str) -> JobState:
    row: JobState | None = JobState.get_or_none((JobState.site == site) & (JobState.job == job))
    return row if row is not None else JobState(site=site, job=job)


def record(site: Site, outcome: JobOutcome) -> str | None:
    """Save the outcome on the job's state; returns the alert it calls for (None: none)."""
    row = _state(site, outcome.job)
    condition = outcome.condition
    previous = row.alerted or ""
    status: str | None = None
    if condition and condition != previous:
        status = "failed" if outcome.code == ERROR else "attention"
    elif not condition and previous.startswith(f"{ERROR}:"):
        status = "recovered"
    row.last_at = utcnow()
    row.last_code = outcome.code
    row.last_message = outcome.message or None
    row.alerted = condition
    with Site._meta.database.atomic():
        row.save()
    return status


def after_run(store: Store, outcome: JobOutcome) -> list[str]:
    """Record a run's outcome and send the alert it calls for; returns warnings (a channel that
    could not be reached), never raises for a channel."""
    from core.sites import get_site

    site = get_site(store, outcome.site)
    status = record(site, outcome)
    if status is None:
        return []
    message = outcome.message if outcome.code != OK else "the last run went through"
    alert = Alert(outcome.site, outcome.job, status, outcome.code, outcome.error_code, message,
                  tuple(outcome.lines), utcnow())
    return send(store, site, alert)


def test_alert(store: Store, site: Site) -> tuple[list[str], list[str]]:
    """Send a test alert on every channel of the site; returns (sent to, warnings)."""
    alert = Alert(site.name, "alerts", "test", OK, None,
                  "This is a test of factsync's alerts: nothing is wrong.", (), utcnow())
    return channels(store, site), send(store, site, alert)


def channels(store: Store, site: Site) -> list[str]:
    """Where the site's alerts go, in words (no credentials, no webhook secrets)."""
    from core.site_settings import settings

    cfg = settings(site)
    out = []
    if cfg.alert_emails:
        out.append(f"email to {', '.join(cfg.alert_emails)}")
    hook = cfg.alert_webhook or os.environ.get(WEBHOOK_URL)
    if hook:
        out.append(f"webhook {urlsplit(hook).netloc}")
    return out


def send(store: Store, site: Site, alert: Alert) -> list[str]:
    from core.site_settings import settings

    cfg = settings(site)
    warnings: list[str] = []
    if cfg.alert_emails:
        try:
            send_email(store, alert, list(cfg.alert_emails))
        except AlertError as err:
            warnings.append(str(err))
    hook = cfg.alert_webhook or os.environ.get(WEBHOOK_URL)
    if hook:
        try:
            post_webhook(hook, alert)
        except AlertError as err:
            warnings.append(str(err))
    return warnings


class AlertError(Exception):
    """A channel could not deliver; the text names it without credentials."""


# --- webhook ------------------------------------------------------------------------------------


def post_webhook(url: str, alert: Alert) -> None:
    import httpx

    where = urlsplit(url).netloc or "the webhook"
    try:
        response = httpx.post(url, json=alert.to_json(), timeout=10.0)
    except httpx.HTTPError as err:
        raise AlertError(f"alert webhook {where} could not be reached ({type(err).__name__})") \
            from None
    if response.status_code >= 300:
        raise AlertError(f"alert webhook {where} answered HTTP {response.status_code}")


# --- email --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    implicit_tls: bool
    user: str | None
    password: str | None
    sender: str


def smtp_config(store: Store) -> SmtpConfig:
    url = os.environ.get(SMTP_URL)
    if not url:
        raise AlertError(f"email alerts need {SMTP_URL} (e.g. smtp://mail.school.org:587)")
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise AlertError(f"{SMTP_URL} must look like smtp://host:587 or smtps://host:465")
    user = os.environ.get(SMTP_USER) or (unquote(parts.username) if parts.username else None) \
        or store.secrets.get(SECRET_USER)
    password = os.environ.get(SMTP_PASSWORD) or (
        unquote(parts.password) if parts.password else None) or store.secrets.get(SECRET_PASSWORD)
    implicit = parts.scheme == "smtps"
    sender = os.environ.get(ALERT_FROM) or (
        user if user and "@" in user else f"factsync@{socket.gethostname()}")
    return SmtpConfig(parts.hostname, parts.port or (465 if implicit else 587), implicit,
                      user, password, sender)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def send_email(store: Store, alert: Alert, to: list[str]) -> None:
    cfg = smtp_config(store)
    msg = EmailMessage()
    msg["Subject"] = alert.subject
    msg["From"] = cfg.sender
    msg["To"] = ", ".join(to)
    msg.set_content(alert.body())
    context = ssl.create_default_context()
    try:
        smtp: smtplib.SMTP
        if cfg.implicit_tls:
            smtp = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=15, context=context)
        else:
            smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=15)
        with smtp:
            smtp.ehlo()
            secure = cfg.implicit_tls
            if not secure and smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
                secure = True
            if cfg.user and cfg.password:
                if not secure and not _loopback(cfg.host):
                    raise AlertError(f"the mail server {cfg.host} offers no STARTTLS: factsync "
                                     "will not send the SMTP password unencrypted")
                smtp.login(cfg.user, cfg.password)
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as err:
        text = str(err)
        for secret in (cfg.password, cfg.user):
            if secret:
                text = text.replace(secret, "••••")
        raise AlertError(f"alert email via {cfg.host}:{cfg.port} failed: "
                         f"{type(err).__name__}: {text[:200]}") from None
