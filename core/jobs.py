"""A site's unattended jobs, sync and write-back, as cron, ``sync --all`` and the daemon run them.

Each returns a :class:`JobOutcome`: the exit code of the contract (0 done and nothing new waits,
1 error and nothing half-applied, 3 something new waits for a person), a short text for a nightly
log (counts, what is new, where the details are), the JSON body, and the condition an alert is
about. Errors a person can act on are caught here and told in words; anything else is a bug and
propagates.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from store import Store
from store.models import Site

if TYPE_CHECKING:
    from core.sync.service import SyncResult
    from core.writeback.worker import RunReport

OK, ERROR, ATTENTION = 0, 1, 3
SEVERITY = {OK: 0, ATTENTION: 1, ERROR: 2}
"""How bad an exit code is, for "exit with the worst code" of ``--all``."""


def worst(codes: list[int]) -> int:
    return max(codes, key=lambda c: SEVERITY.get(c, 3), default=OK)


@dataclass
class JobOutcome:
    site: str
    job: str
    """sync | writeback"""
    code: int
    lines: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    error_code: str | None = None
    message: str = ""
    """One sentence: the error, or what waits (what an alert says)."""

    @property
    def condition(self) -> str:
        """What an alert is about: "" when all is well; the same text on two runs means the
        same condition (no second alert)."""
        if self.code == OK:
            return ""
        if self.code == ERROR:  # the same failure again, whatever its details say this time
            return f"{self.code}:{self.error_code or 'error'}"
        return f"{self.code}:{self.message}"

    def to_json(self) -> dict[str, Any]:
        body = dict(self.data)
        if self.code == ERROR:
            body["error"] = {"code": self.error_code or "error", "message": self.message}
        return body


def user_errors() -> tuple[type[BaseException], ...]:
    from core.facts.errors import FactsError
    from core.sites import SiteError
    from core.sync.apply import SyncError
    from store.errors import DATABASE_ERRORS, StoreError

    return (FactsError, SiteError, SyncError, StoreError, *DATABASE_ERRORS)


def describe(err: BaseException) -> str:
    """The sentence for one of :func:`user_errors` (a database error names the store)."""
    from store.errors import DATABASE_ERRORS

    if isinstance(err, DATABASE_ERRORS):
        from store import db
        from store.errors import store_error

        return str(store_error(err, db.last_opened))
    return str(err)


def _error(site: str, job: str, err: BaseException) -> JobOutcome:
    from store.errors import DATABASE_ERRORS

    name = type(err).__name__
    code = "storeError" if isinstance(err, DATABASE_ERRORS) else name[:1].lower() + name[1:]
    text = describe(err)
    return JobOutcome(site, job, ERROR, [f"{site}: error: {text}"], {"site": site},
                      error_code=code, message=text)


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


# --- sync -------------------------------------------------------------------------------------


def sync_lines(site: str, result: SyncResult, dry_run: bool = False) -> list[str]:
    """A sync in a few lines: the counts, what is new, and where the details are."""
    plan = result.plan
    c = plan.counts()
    head = "dry run" if dry_run else (
        f"run {result.run.number}" if result.run is not None else "nothing to change")
    lines = [
        f"{site}: {head}",
        f"  new {c['added']}, merged by email {c['linked']}, updated {c['updated']}, "
        f"archived {c['archived']}, restored {c['restored']}, skipped {c['skipped']}, "
        f"unchanged {c['unchanged']}, left to decide {c['conflicts']}",
    ]
    new = len(result.new_conflicts)
    if new:
        lines.append(f"  {_plural(new, 'new conflict')} since the last sync wait for a decision: "
                     f"factsync conflicts {site!r} --new")
    elif c["conflicts"]:
        lines.append(f"  {_plural(c['conflicts'], 'conflict')} still open (none new): "
                     f"factsync conflicts {site!r}")
    if result.held:
        n = len(result.held)
        if result.hold is None:
            lines.append(f"  would hold {_plural(n, 'archive')} for a confirmation: "
                         f"{result.held_reason}")
        elif result.hold_new:
            lines.append(f"  hold {result.hold.id}: {_plural(n, 'archive')} wait for a "
                         f"confirmation ({result.held_reason}): factsync holds {site!r}")
        elif result.hold.state == "rejected":
            lines.append(f"  {_plural(n, 'archive')} left out: hold {result.hold.id} was rejected")
        else:
            lines.append(f"  hold {result.hold.id} still waits ({_plural(n, 'archive')}): "
                         f"factsync holds {site!r}")
    if plan.unreadable:
        lines.append(
            f"  {_plural(len(plan.unreadable), 'unreadable FACTS record')} left out"
            + (f", {c['held']} account(s) kept as they are" if c["held"] else "")
            + f": factsync sync {site!r} --report FILE.csv lists them")
        lines += [f"    unreadable {u}" for u in plan.unreadable[:3]]
    if plan.duplicates:
        lines.append(f"  {_plural(len(plan.duplicates), 'possible duplicate')}: "
                     f"factsync sync {site!r} --dry-run --json lists them")
    return lines


async def run_sync(
    store: Store,
    site: Site | str,
    *,
    dry_run: bool = False,
    confirm_archive: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
    on_result: Callable[[SyncResult], None] | None = None,
) -> JobOutcome:
    """One sync of a site with its saved setup, as an unattended run reports it."""
    from core.sync import service

    name = site if isinstance(site, str) else site.name
    try:
        result = await service.sync(store, name, dry_run=dry_run,
                                    confirm_archive=confirm_archive, transport=transport)
    except service.SitePaused as err:
        return JobOutcome(name, "sync", OK, [f"{name}: {err}"],
                          {"site": name, "paused": err.pause.to_json(), "run": None},
                          message=str(err))
    except service.UnreadableStop as err:
        if on_result is not None:
            on_result(service.SyncResult(err.plan, None))
        return _error(name, "sync", err)
    except user_errors() as err:
        return _error(name, "sync", err)
    if on_result is not None:
        on_result(result)
    waits = result.attention()
    code = ATTENTION if waits else OK
    data = {"site": name, **result.to_json()}
    return JobOutcome(name, "sync", code, sync_lines(name, result, dry_run), data,
                      error_code="attention" if waits else None, message="; ".join(waits))


# --- write-back ---------------------------------------------------------------------------------


def writeback_line(r: RunReport) -> str:
    parts: list[str] = []
    for label, n in (
        ("created", r.created),
        ("adopted (already in FACTS)", r.adopted),
        ("updated", r.updated),
        ("withdrawn", r.withdrawn),
        ("dropped", r.dropped),
        ("failed", r.failed),
    ):
        if n:
            parts.append(f"{label} {n}")
    tail = f"; {r.retrying} still queued" if r.retrying else ""
    done = ", ".join(parts) or "nothing to send"
    return f"write-back: {done}{tail} ({r.requests} requests)"


async def drain(
    store: Store,
    site: Site,
    *,
    stop: asyncio.Event | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    on_progress: Callable[[RunReport], None] | None = None,
) -> RunReport:
    """Send what the site owes FACTS now; a FACTS that cannot be reached for ``--timeout``
    seconds ends the run (the entries stay queued, nothing is lost or doubled)."""
    from core.connection import check_connection, open_client
    from core.writeback.worker import WriteBackWorker

    halt = asyncio.Event()
    client = open_client(store, site, transport=transport)

    async def watch() -> None:
        import time

        while not halt.is_set():
            if stop is not None and stop.is_set():
                halt.set()
            since = client.unreachable_since
            if since is not None and time.monotonic() - since >= client.timeout:
                halt.set()
            await asyncio.sleep(0.2)

    async with client:
        worker = WriteBackWorker(
            store, site, client,
            recheck=lambda: check_connection(store, site, transport=transport),
            on_progress=on_progress,
        )
        watchdog = asyncio.ensure_future(watch())
        try:
            report = await worker.drain(halt)
        finally:
            halt.set()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog
        if client.unreachable_since is not None and not (stop is not None and stop.is_set()):
            from core.facts.errors import FactsUnreachable

            report.error = str(FactsUnreachable(f"no answer for {client.timeout:.0f} s"))
    return report


async def run_writeback(
    store: Store,
    site: Site | str,
    *,
    stop: asyncio.Event | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> JobOutcome:
    """One drain of the site's write-back, as an unattended run reports it."""
    from core.sites import get_site, require_advanced

    name = site if isinstance(site, str) else site.name
    try:
        s = get_site(store, name)
        require_advanced(s)
        report = await drain(store, s, stop=stop, transport=transport)
    except user_errors() as err:
        return _error(name, "writeback", err)
    return writeback_outcome(name, report, paused_note(s))


def paused_note(site: Site) -> str | None:
    """What a write-back run says of a paused site (its sync waits; write-back goes on)."""
    from core.site_settings import settings

    pause = settings(site).pause
    return f"  sync is {pause.words()}; write-back goes on" if pause else None


def writeback_outcome(name: str, report: RunReport, note: str | None = None) -> JobOutcome:
    """Exit 1 when FACTS could not be reached or write-back is off; 3 when entries were given
    up or FACTS holds doubles; 0 otherwise."""
    data = {"site": name, **report.to_json(), "error": None}  # an object when it failed
    lines = [f"{name}: {writeback_line(report)}", *(f"  ! {d}" for d in report.duplicates)]
    if note:
        lines.append(note)
    from core.writeback.worker import hour_sync_off

    if report.disabled and not report.error and report.disabled == hour_sync_off(name):
        # switched off on purpose (issue 9): nothing is owed to FACTS, nothing waits
        return JobOutcome(name, "writeback", OK, [*lines, f"{name}: {report.disabled}"], data)
    if report.error or report.disabled:
        text = report.error or f"write-back is off for site {name!r}: {report.disabled}"
        code = "factsUnreachable" if report.error else "writebackOff"
        return JobOutcome(name, "writeback", ERROR, [*lines, f"{name}: error: {text}"], data,
                          error_code=code, message=text)
    waits: list[str] = []
    if report.failed:
        waits.append(f"{_plural(report.failed, 'entry', 'entries')} given up after repeated "
                     f"failures: factsync writeback {name!r} --failed")
    if report.duplicates:
        waits.append(f"{_plural(len(report.duplicates), 'FACTS row')} found doubled")
    if waits:
        return JobOutcome(name, "writeback", ATTENTION, [*lines, *(f"  {w}" for w in waits)],
                          data, error_code="attention", message="; ".join(waits))
    return JobOutcome(name, "writeback", OK, lines, data)


# --- every site ---------------------------------------------------------------------------------


def sites_with_setup(store: Store) -> list[Site]:
    """Sites a ``--all`` run covers: the Advanced plan, a saved setup and a connection."""
    from store.models import Connection, SyncSetup

    return list(
        Site.select().join(SyncSetup).switch(Site).join(Connection)
        .where(Site.plan == "advanced").order_by(Site.name)
    )


def key_groups(store: Store, sites: list[Site]) -> list[list[Site]]:
    """Sites grouped by their FACTS key: groups run in parallel, a group's sites one by one
    (one key has one rate budget)."""
    from store.models import Connection

    groups: dict[str, list[Site]] = {}
    for s in sites:
        conn = Connection.get(Connection.site == s)
        key = store.secrets.get(conn.api_key_ref) or f"site-{s.id}"
        groups.setdefault(f"{conn.base_url}|{key}", []).append(s)
    return list(groups.values())


async def run_all(
    store: Store,
    job: Callable[[Site], Any],
    on_done: Callable[[JobOutcome], None] | None = None,
) -> list[JobOutcome]:
    """Run ``job(site)`` (a coroutine giving a JobOutcome) for every site with a setup."""
    outcomes: list[JobOutcome] = []

    async def group(sites: list[Site]) -> None:
        for s in sites:
            outcome: JobOutcome = await job(s)
            outcomes.append(outcome)
            if on_done is not None:
                on_done(outcome)

    await asyncio.gather(*(group(g) for g in key_groups(store, sites_with_setup(store))))
    outcomes.sort(key=lambda o: o.site)
    return outcomes
