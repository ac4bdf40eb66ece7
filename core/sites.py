"""Sites: one volunteer-hours site rosters one kind of FACTS people (students or parents)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import peewee as pw

from store import Store
from store.models import Account, Connection, Site, SyncRun

SITE_PLANS = ("basic", "advanced")
ROSTER_KINDS = ("students", "parents")


class SiteError(Exception):
    """A site-level refusal with a sentence the admin can act on."""


class PlanRequired(SiteError):
    def __init__(self, site: str, plan: str) -> None:
        super().__init__(
            f"site {site!r} is on the {plan!r} plan; the FACTS SIS integration needs the "
            f"'advanced' plan. Upgrade the site first."
        )


@dataclass(frozen=True)
class SiteSummary:
    id: int
    name: str
    plan: str
    kind: str | None
    accounts_active: int
    accounts_archived: int
    connected: bool
    people_read: bool | None
    people_write: bool | None
    last_sync_at: datetime | None


def add_site(store: Store, name: str, plan: str = "advanced") -> Site:
    name = name.strip()
    if not name:
        raise SiteError("a site needs a name")
    if plan not in SITE_PLANS:
        raise SiteError(f"unknown plan {plan!r}: choose one of {', '.join(SITE_PLANS)}")
    try:
        with store.db.atomic():
            site: Site = Site.create(name=name, plan=plan)
            from core import events

            events.record(store, site, "site-add", f"site added ({plan} plan)")
    except pw.IntegrityError:
        raise SiteError(f"a site named {name!r} already exists") from None
    return site


def get_site(store: Store, name: str) -> Site:
    site: Site | None = Site.get_or_none(Site.name == name)
    if site is None:
        known = ", ".join(s.name for s in Site.select().order_by(Site.name)) or "none yet"
        raise SiteError(f"no site named {name!r} (sites: {known})")
    return site


def require_advanced(site: Site) -> None:
    if site.plan != "advanced":
        raise PlanRequired(site.name, site.plan)


def list_sites(store: Store) -> list[SiteSummary]:
    out: list[SiteSummary] = []
    for site in Site.select().order_by(Site.name):
        conn: Connection | None = Connection.get_or_none(Connection.site == site)
        query = (
            Account.select(Account.status, pw.fn.COUNT(Account.id))
            .where(Account.site == site)
            .group_by(Account.status)
            .tuples()
        )
        counts: dict[str, int] = {str(row[0]): int(row[1]) for row in cast(Any, query)}
        last = (
            SyncRun.select(pw.fn.MAX(SyncRun.finished_at))
            .where((SyncRun.site == site) & (SyncRun.kind == "sync"))
            .scalar()
        )
        out.append(
            SiteSummary(
                id=site.id,
                name=site.name,
                plan=site.plan,
                kind=site.kind,
                accounts_active=int(counts.get("active", 0)),
                accounts_archived=int(counts.get("archived", 0)),
                connected=conn is not None,
                people_read=conn.people_read if conn else None,
                people_write=conn.people_write if conn else None,
                last_sync_at=last,
            )
        )
    return out
