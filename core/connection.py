"""A site's FACTS connection: saved keys (as secret references), permissions, and the client.

A base URL of the form ``sandbox:`` (optionally ``sandbox:?families=300&seed=7``, with
``history=light`` for a school without a live tenant's history, ``bad_records=0.01`` for some
unreadable rows) connects to the in-process sandbox FACTS SIS instead of the network; the demo
and the tests use it, and service hours written to it persist in a file beside the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from core.facts.plans import PLANS, SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY
from core.facts.secrets import key_problem, scrub
from core.sites import SiteError
from store import Store
from store.budget import StoreLedger, budget_key
from store.models import Connection, Site

if TYPE_CHECKING:  # httpx and the client load when FACTS is called: Home does not need them
    import httpx

    from core.facts.client import FactsClient
    from core.facts.probe import Permissions

SANDBOX_SCHEME = "sandbox:"
DEFAULT_BASE_URL = "https://api.factsmgt.com"


class NotConnected(SiteError):
    def __init__(self, site: str) -> None:
        super().__init__(
            f"site {site!r} is not connected to FACTS yet: connect it first"
        )


@dataclass(frozen=True)
class ConnectionInfo:
    """What a screen may show about a connection: never the keys, only the key's last 4 chars."""

    base_url: str
    plan: str
    api_key_hint: str
    is_sandbox: bool
    people_read: bool | None
    people_write: bool | None
    academics_read: bool | None
    checked_at: datetime | None
    last_error: str | None

    @property
    def write_back_possible(self) -> bool:
        return bool(self.people_write)


def mask_key(key: str) -> str:
    return "••••" + key[-4:] if len(key) > 4 else "••••"


def is_sandbox_url(base_url: str) -> bool:
    return base_url.startswith(SANDBOX_SCHEME)


def save_connection(
    store: Store,
    site: Site,
    *,
    base_url: str,
    api_key: str,
    subscription_key: str,
    plan: str = "pro",
) -> Connection:
    """Save the base URL and plan, and the keys as references into the 0600 secrets file."""
    if plan not in PLANS:
        raise SiteError(f"unknown FACTS plan {plan!r}: choose one of {', '.join(PLANS)}")
    for what, key in (("school API key", api_key), ("subscription key", subscription_key)):
        problem = key_problem(what, key)
        if problem:
            raise SiteError(problem)
    api_ref = store.secrets.put(f"site-{site.id}-api-key", api_key.strip())
    sub_ref = store.secrets.put(f"site-{site.id}-subscription-key", subscription_key.strip())
    with store.db.atomic():
        conn: Connection | None = Connection.get_or_none(Connection.site == site)
        if conn is None:
            conn = Connection(site=site)
        conn.base_url = base_url.strip().rstrip("/") or DEFAULT_BASE_URL
        conn.plan = plan
        conn.api_key_ref = api_ref
        conn.subscription_key_ref = sub_ref
        conn.api_key_hint = api_key.strip()[-4:]
        conn.people_read = conn.people_write = conn.academics_read = None
        conn.checked_at = None
        conn.last_error = None
        conn.save()
        from core import events

        events.record(store, site, "connect", f"FACTS keys saved: {conn.base_url}, school API "
                      f"key {mask_key(api_key.strip())}, {plan} plan")
    return conn


def connection_info(site: Site) -> ConnectionInfo | None:
    conn: Connection | None = Connection.get_or_none(Connection.site == site)
    if conn is None:
        return None
    return ConnectionInfo(
        base_url=conn.base_url,
        plan=conn.plan,
        api_key_hint=mask_key("xxxx" + (conn.api_key_hint or "")),
        is_sandbox=is_sandbox_url(conn.base_url),
        people_read=conn.people_read,
        people_write=conn.people_write,
        academics_read=conn.academics_read,
        checked_at=conn.checked_at,
        last_error=conn.last_error,
    )


@cache
def sandbox_for(spec: str, hours_file: str | None) -> object:
    """One in-process sandbox per spec and hours file for the life of the process."""
    from core.facts.sandbox import Faults, Sandbox, SandboxConfig, generate_school

    query = parse_qs(urlsplit(spec).query)
    families = int(query.get("families", ["300"])[0])
    seed = int(query.get("seed", ["7"])[0])
    plan = query.get("plan", ["enterprise"])[0]
    latency = int(query.get("latency_ms", ["0"])[0])
    people = query.get("people", ["Write"])[0].capitalize()
    history = query.get("history", ["live"])[0]
    bad_records = float(query.get("bad_records", ["0"])[0])
    return Sandbox(
        generate_school(families=families, seed=seed, history=history),
        SandboxConfig(
            faults=Faults(bad_records=bad_records),
            plan=plan,
            latency_ms=latency,
            subscription_keys=[SANDBOX_SUBSCRIPTION_KEY],
            api_keys={SANDBOX_API_KEY: {"People": people, "Academics": "Read"}},
            hours_file=hours_file,
        ),
    )


def transport_for(store: Store, base_url: str) -> httpx.AsyncBaseTransport | None:
    if not is_sandbox_url(base_url):
        return None
    hours_file = str(store.path.with_name(store.path.name + ".sandbox-hours.json"))
    sandbox = sandbox_for(base_url, hours_file)
    transport: httpx.AsyncBaseTransport = sandbox.transport()  # type: ignore[attr-defined]
    return transport


def open_client(
    store: Store, site: Site, *, transport: httpx.AsyncBaseTransport | None = None
) -> FactsClient:
    """A FACTS client for the site's saved connection (the caller closes it)."""
    conn: Connection | None = Connection.get_or_none(Connection.site == site)
    if conn is None:
        raise NotConnected(site.name)
    api_key = store.secrets.get(conn.api_key_ref)
    sub_key = store.secrets.get(conn.subscription_key_ref)
    if not api_key or not sub_key:
        raise SiteError(
            f"the keys of site {site.name!r} are missing from {store.secrets.path}: connect again"
        )
    return _client(store, conn.base_url, sub_key, api_key, conn.plan, transport)


def _client(store: Store, base_url: str, sub_key: str, api_key: str, plan: str,
            transport: httpx.AsyncBaseTransport | None) -> FactsClient:
    from core.facts.client import FactsClient

    if transport is None:
        transport = transport_for(store, base_url)
    if is_sandbox_url(base_url):
        from core.facts.sandbox import SandboxConfig

        base_url = SandboxConfig().base_url
    ledger = StoreLedger(store.path, budget_key(sub_key))  # one budget per key for all processes
    return FactsClient(
        base_url, sub_key, api_key, plan=plan, transport=transport, ledger=ledger
    )


class CheckFailed(SiteError):
    """New keys failed their check and were not saved: the working keys stay in use."""

    def __init__(self, site: str, err: Exception, had_keys: bool) -> None:
        self.cause = err
        kept = ("the keys that worked before stay in use" if had_keys
                else "nothing was saved")
        super().__init__(f"the new keys of site {site!r} did not pass the check ({err}); {kept}")


async def connect(
    store: Store,
    site: Site,
    *,
    base_url: str,
    api_key: str,
    subscription_key: str,
    plan: str = "pro",
    force: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Permissions | None:
    """Check new keys with FACTS, then save them with what they may do.

    A check that fails saves nothing (CheckFailed: the working keys stay), unless ``force``:
    then the keys are saved unchecked, with the failure as the connection's last error.
    """
    from core.facts.errors import FactsError
    from core.facts.probe import probe_permissions

    if plan not in PLANS:
        raise SiteError(f"unknown FACTS plan {plan!r}: choose one of {', '.join(PLANS)}")
    for what, key in (("school API key", api_key), ("subscription key", subscription_key)):
        problem = key_problem(what, key)
        if problem:
            raise SiteError(problem)
    url = base_url.strip().rstrip("/") or DEFAULT_BASE_URL
    client = _client(store, url, subscription_key.strip(), api_key.strip(), plan, transport)
    try:
        async with client:
            perms = await probe_permissions(client)
    except FactsError as err:
        if not force:
            had = Connection.get_or_none(Connection.site == site) is not None
            raise CheckFailed(site.name, err, had) from None
        conn = save_connection(store, site, base_url=url, api_key=api_key,
                               subscription_key=subscription_key, plan=plan)
        conn.last_error = scrub(str(err), (api_key, subscription_key))
        conn.checked_at = datetime.now(UTC).replace(tzinfo=None)
        conn.save()
        return None
    conn = save_connection(store, site, base_url=url, api_key=api_key,
                           subscription_key=subscription_key, plan=plan)
    _keep(conn, perms)
    return perms


def _keep(conn: Connection, perms: Permissions) -> None:
    conn.people_read = perms.people_read
    conn.people_write = perms.people_write
    conn.academics_read = perms.academics_read
    conn.checked_at = datetime.now(UTC).replace(tzinfo=None)
    conn.last_error = None
    conn.save()


def api_key_of(store: Store, conn: Connection) -> str:
    return store.secrets.get(conn.api_key_ref) or ""


def sub_key_of(store: Store, conn: Connection) -> str:
    return store.secrets.get(conn.subscription_key_ref) or ""


async def check_connection(
    store: Store, site: Site, *, transport: httpx.AsyncBaseTransport | None = None
) -> Permissions:
    """Probe the key's permissions (creates and changes nothing in FACTS) and save them."""
    from core.facts.errors import FactsError
    from core.facts.probe import probe_permissions

    client = open_client(store, site, transport=transport)
    conn: Connection = Connection.get(Connection.site == site)
    try:
        async with client:
            perms = await probe_permissions(client)
    except FactsError as err:
        conn.last_error = scrub(str(err), (api_key_of(store, conn), sub_key_of(store, conn)))
        conn.checked_at = datetime.now(UTC).replace(tzinfo=None)
        conn.save()
        raise
    _keep(conn, perms)
    return perms
