"""The facade the wizard calls: one admin's session on a store, every use case one call.

Each method is a blocking call (run it off the event loop) that takes site names and returns
plain values; the CLI makes the same calls. Refusals raise one of :data:`USER_ERRORS`, whose
text is a sentence for the admin. Heavy modules (httpx, the FACTS models, the planner) load on
first use, so opening the wizard's Home does not wait for them.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from core.actor import current_actor
from core.sites import SiteError

if TYPE_CHECKING:
    import httpx

    from core.accounts import AccountView, Invite
    from core.connection import ConnectionInfo
    from core.facts.fetch import FetchProgress
    from core.hours import EntryView
    from core.overview import Unattended
    from core.roster import Roster
    from core.site_settings import Pause
    from core.sync.bulk import BulkDecision
    from core.sync.conflicts import ConflictChoice
    from core.sync.holds import HoldView
    from core.sync.plan import SyncPlan
    from core.sync.review import Change, ReviewModel
    from core.sync.selection import Selection
    from core.sync.service import RunSummary
    from core.sync.setup import SetupDoc
    from core.writeback.outbox import FailedRow
    from core.writeback.status import SiteStatus
    from core.writeback.worker import RunReport
    from store import Store

T = TypeVar("T")


def _user_errors() -> tuple[type[BaseException], ...]:
    from core.facts.errors import FactsError
    from core.sync.apply import SyncError

    return (SiteError, SyncError, FactsError)


class Cancelled(Exception):
    """The admin cancelled a FACTS call."""


class CancelToken:
    """Cancels a FACTS call running on another thread's event loop, without polling."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Future[Any] | None = None
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True
        loop, task = self._loop, self._task
        if loop is not None and task is not None:
            loop.call_soon_threadsafe(task.cancel)

    def run(self, make: Callable[[], Awaitable[T]]) -> T:
        """Run the coroutine on a fresh loop (call from a thread); Cancelled if cancelled."""

        async def main() -> T:
            self._loop = asyncio.get_running_loop()
            task: asyncio.Future[T] = asyncio.ensure_future(make())
            self._task = task
            if self.cancelled:
                task.cancel()
            try:
                return await task
            except asyncio.CancelledError:
                raise Cancelled() from None

        return asyncio.run(main())


# --- what the screens show ------------------------------------------------------------------


@dataclass(frozen=True)
class SetupSummary:
    """What Home shows of a saved setup (read without the pydantic model: Home opens first)."""

    kind: str
    schools: tuple[str, ...]
    statuses: tuple[str, ...]
    grades: tuple[str, ...]
    preset: str


@dataclass(frozen=True)
class LastRun:
    number: int
    started_at: datetime
    finished_at: datetime | None
    undone_at: datetime | None
    counts: dict[str, Any]


@dataclass(frozen=True)
class SiteCard:
    """Everything Home shows about one site."""

    name: str
    plan: str
    kind: str | None
    archived: int
    status: SiteStatus
    setup: SetupSummary | None
    last_run: LastRun | None
    api_key_hint: str | None
    is_sandbox: bool
    unattended: Unattended | None = None
    """Schedule, pause, holds and the last unattended runs (``core.overview``)."""

    @property
    def paused(self) -> Pause | None:
        return self.unattended.pause if self.unattended else None

    @property
    def ready_to_sync(self) -> bool:
        """Begin Sync → Sync can run: the Advanced plan, a saved setup and a connection."""
        return self.plan == "advanced" and self.setup is not None and self.status.connected


@dataclass(frozen=True)
class KindState:
    fixed: str | None
    """The kind the site rosters since its first sync (cannot change)."""
    chosen: str | None


@dataclass(frozen=True)
class ReadResult:
    roster: Roster
    progress: FetchProgress | None
    """The last progress of the read: its figures are the final ones."""


@dataclass
class SyncOutcome:
    """What apply-with-merges-and-invites did."""

    plan: SyncPlan
    run: int | None
    """The site's run number (None: nothing was written)."""
    merged: list[str] = field(default_factory=list)
    merge_errors: list[str] = field(default_factory=list)
    invites: list[Invite] = field(default_factory=list)
    hold: HoldView | None = None
    """The archives this run left waiting for a person (None: nothing held)."""


@dataclass(frozen=True)
class ArchiveQuestion:
    """The mass-archive confirmation, the same for Preview and Begin Sync."""

    title: str
    headline: str
    names: tuple[tuple[str, str], ...]
    """(name, reason) of the first archives."""
    more: int
    yes: str


def archive_question(plan: SyncPlan, shown: int = 12) -> ArchiveQuestion | None:
    """What to ask before a plan archives more than the safe share (None: nothing to ask)."""
    if not plan.needs_confirmation:
        return None
    a = plan.archive
    items = plan.of("archive")
    return ArchiveQuestion(
        title="Archive many accounts?",
        headline=(f"This sync would archive {a.archive_count} of {a.synced_count} accounts it "
                  f"manages ({a.share:.0%}). Archived accounts keep their hours and come back "
                  "if they match again."),
        names=tuple((it.name, it.reason) for it in items[:shown]),
        more=max(0, len(items) - shown),
        yes=f"Archive {a.archive_count}",
    )


@dataclass(frozen=True)
class HoursState:
    entries: list[EntryView]
    counts: dict[str, int]


@dataclass(frozen=True)
class WriteBackState:
    enabled: bool
    reason: str | None
    people_write: bool | None
    base_url: str | None
    is_sandbox: bool
    counts: dict[str, int]
    failed: list[FailedRow]


@dataclass(frozen=True)
class RunChanges:
    """One run's journal with the account each change is about, in words."""

    changes: list[dict[str, Any]]
    names: dict[int, str]
    total: int


@dataclass(frozen=True)
class FamilyGroup:
    ids: tuple[int, ...]
    accounts: list[str]


@dataclass(frozen=True)
class FamiliesState:
    has_setup: bool
    groups: list[FamilyGroup]


@dataclass(frozen=True)
class MergeOutcome:
    entries_moved: int
    hours_moved: float
    accounts: list[AccountView]


def _naive_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class Workspace:
    """The store and what the session needs to reach FACTS; every method is one use case."""

    store: Store
    transport: httpx.AsyncBaseTransport | None = None
    """Tests pass the in-process sandbox's transport; None means the site's saved base URL."""
    subscription_key: str | None = None
    """The vendor key from configuration (``FACTSYNC_SUBSCRIPTION_KEY``), prefilled on Connect."""
    now: Callable[[], datetime] = _naive_now
    """The clock for "5 min ago" labels and file names (store times are naive UTC)."""
    export_dir: Path = field(default_factory=Path.cwd)
    """Where invite CSV files are written."""
    approver: str = "site admin"
    """Who approves hours in this session (sent to FACTS as verifiedBy)."""

    @classmethod
    def open(cls, path: str | Path | None) -> Workspace:
        """Open the store at ``path`` (None: the configured one) with the environment's keys."""
        from store import open_store

        return cls(
            open_store(path),
            subscription_key=os.environ.get("FACTSYNC_SUBSCRIPTION_KEY") or None,
            approver=os.environ.get("FACTSYNC_APPROVER") or current_actor().name,
        )

    @property
    def user_errors(self) -> tuple[type[BaseException], ...]:
        """The refusals whose text is meant for the admin (anything else is a bug)."""
        return _user_errors()

    def _site(self, name: str) -> Any:
        from core.sites import get_site

        return get_site(self.store, name)

    # --- Home and sites -------------------------------------------------------------------------

    def site_cards(self) -> list[SiteCard]:
        """Every site's card; only light modules are loaded (no FACTS models, no httpx)."""
        import json

        from core.connection import connection_info
        from core.overview import unattended
        from core.sites import list_sites
        from core.writeback.status import site_status
        from store.models import SyncRun, SyncSetup

        cards: list[SiteCard] = []
        for summary in list_sites(self.store):
            site = self._site(summary.name)
            run = (SyncRun.select()
                   .where((SyncRun.site == site) & (SyncRun.kind == "sync"))
                   .order_by(SyncRun.id.desc()).first())
            row = SyncSetup.get_or_none(SyncSetup.site == site)
            doc = json.loads(row.document) if row is not None else None
            info = connection_info(site)
            cards.append(SiteCard(
                name=site.name, plan=site.plan, kind=site.kind,
                archived=summary.accounts_archived, status=site_status(site),
                setup=None if doc is None else SetupSummary(
                    kind=doc["kind"],
                    schools=tuple(doc.get("criteria", {}).get("schools", ())),
                    statuses=tuple(doc.get("criteria", {}).get("statuses", ("Enrolled",))),
                    grades=tuple(doc.get("criteria", {}).get("grades", ())),
                    preset=doc.get("parents", {}).get("preset", "all"),
                ),
                last_run=None if run is None else LastRun(
                    run.number or run.id, run.started_at, run.finished_at, run.undone_at,
                    json.loads(run.counts or "{}")),
                api_key_hint=info.api_key_hint if info else None,
                is_sandbox=info.is_sandbox if info else False,
                unattended=unattended(site),
            ))
        return cards

    def add_site(self, name: str, plan: str, kind: str | None) -> str:
        from core.sites import add_site
        from core.sync import service

        site = add_site(self.store, name, plan)
        if kind is not None and plan == "advanced":
            service.save_setup(self.store, site, kind=kind)
        return str(site.name)

    # --- Connect ---------------------------------------------------------------------------------

    def connection(self, site: str) -> tuple[str, ConnectionInfo | None]:
        """(the site's plan, what may be shown of its connection)."""
        from core.connection import connection_info

        s = self._site(site)
        return str(s.plan), connection_info(s)

    def check_connection(self, site: str, base_url: str, api_key: str | None,
                         subscription_key: str | None, plan: str) -> ConnectionInfo | None:
        """Check new keys (when given) with FACTS, then save them with what they may do; a
        failing check saves nothing and keeps the working keys (``core.connection.connect``)."""
        from core.connection import check_connection, connect, connection_info
        from core.sites import require_advanced

        s = self._site(site)
        require_advanced(s)
        if api_key is not None:
            if subscription_key is None:
                raise SiteError("Enter the subscription key too.")
            asyncio.run(connect(self.store, s, base_url=base_url, api_key=api_key,
                                subscription_key=subscription_key, plan=plan,
                                transport=self.transport))
            return connection_info(s)
        asyncio.run(check_connection(self.store, s, transport=self.transport))
        return connection_info(s)

    # --- Kind ------------------------------------------------------------------------------------

    def kind_state(self, site: str) -> KindState:
        from core.sync import service

        s = self._site(site)
        setup = service.load_setup(self.store, s)
        return KindState(s.kind, s.kind or (setup.kind if setup else None))

    def save_kind(self, site: str, kind: str) -> None:
        from core.sync import service

        service.save_setup(self.store, site, kind=kind)

    # --- Read, criteria, review, plan -------------------------------------------------------------

    def setup(self, site: str) -> SetupDoc:
        from core.sync import service

        return service.require_setup(self.store, site)

    def read(self, site: str, on_progress: Callable[[FetchProgress], None] | None = None,
             cancel: CancelToken | None = None) -> ReadResult:
        """Read the roster the site's setup needs from FACTS."""
        from core.facts.fetch import FetchProgress
        from core.sync import service

        last: list[FetchProgress] = []

        def progress(p: Any) -> None:
            if isinstance(p, FetchProgress):
                last[:] = [p]
                if on_progress is not None:
                    on_progress(p)

        token = cancel or CancelToken()
        roster = token.run(
            lambda: service.fetch(self.store, site, progress, transport=self.transport))
        return ReadResult(roster, last[0] if last else None)

    def save_criteria(self, site: str, draft: SetupDoc) -> SetupDoc:
        from core.sync import service
        from core.sync.setup import RELATIONSHIP_GROUPS

        rel = draft.parents.relationships
        return service.save_setup(
            self.store, site,
            schools=list(draft.criteria.schools),
            statuses=list(draft.criteria.statuses),
            grades=list(draft.criteria.grades),
            relationships=(list(rel) if rel is not None else list(RELATIONSHIP_GROUPS))
            if draft.kind == "parents" else None,
        )

    def review(self, site: str, roster: Roster, selection: Selection | None = None) -> ReviewModel:
        """The review model of the roster; it lives as long as the roster does."""
        from core.sync import service

        return service.review_model(self.store, site, roster, selection)

    def save_review_change(self, site: str, change: Change) -> None:
        from core.sync import service

        service.save_review_change(self.store, site, change)

    def plan(self, site: str, roster: Roster, review: ReviewModel | None = None) -> SyncPlan:
        """The plan; it lives until the next one (each decision plans again)."""
        from core.sync import service

        return service.make_plan(self.store, site, roster, review)

    def read_and_plan(self, site: str, on_progress: Callable[[FetchProgress], None] | None = None,
                      cancel: CancelToken | None = None) -> tuple[Roster, SyncPlan]:
        """Begin Sync: read FACTS and plan with the saved setup (nothing written)."""
        read = self.read(site, on_progress, cancel)
        return read.roster, self.plan(site, read.roster)

    # --- decisions ---------------------------------------------------------------------------------

    def decide(self, site: str, choice: ConflictChoice) -> None:
        from core.sync import service

        service.decide_choice(self.store, site, choice)

    def decide_bulk(self, site: str, bulk: BulkDecision) -> int:
        from core.sync import service

        return service.decide_bulk(self.store, site, bulk)

    def undo_decision(self, site: str) -> str | None:
        from core.sync import service

        return service.undo_decision(self.store, site)

    # --- apply ---------------------------------------------------------------------------------------

    def apply(self, site: str, plan: SyncPlan, *, confirm_archive: bool = False,
              merges: Sequence[tuple[str, str]] = ()) -> SyncOutcome:
        """Apply the plan (one transaction), then the merges asked for, then list the invites.

        A refused merge is reported, not raised: the sync itself is written by then.
        """
        from core.sync import service

        outcome = SyncOutcome(plan, None)
        result = service.apply_with_holds(self.store, site, plan,
                                          confirm_archive=confirm_archive)
        outcome.run = result.run.number if result.run is not None else None
        outcome.hold = result.hold if result.held else None
        outcome.merged, outcome.merge_errors, outcome.invites = self.merge_and_invite(site, merges)
        return outcome

    def merge_and_invite(self, site: str, merges: Sequence[tuple[str, str]]
                         ) -> tuple[list[str], list[str], list[Invite]]:
        """The merges asked for after a sync (each refusal reported), then who to invite."""
        from core import accounts as acc
        from core.sync.apply import SyncError

        s = self._site(site)
        merged: list[str] = []
        errors: list[str] = []
        for keep, absorb in merges:
            try:
                acc.merge_accounts(self.store, s, keep=keep, absorb=absorb)
                merged.append(f"merged {absorb} into {keep}")
            except (SyncError, SiteError) as err:
                errors.append(f"{absorb} → {keep}: {err}")
        return merged, errors, acc.pending_invites(s)

    def preview_first(self, site: str, plan: SyncPlan) -> str | None:
        """Why Begin Sync → Sync must show the Preview before applying (None: apply at once).

        It applies directly only for a site that synced before and whose plan holds nothing
        new: no new conflicts, nothing held, archives under the threshold."""
        from store.models import SyncRun

        s = self._site(site)
        if not SyncRun.select().where((SyncRun.site == s) & (SyncRun.kind == "sync")).exists():
            return "a first sync: look at the plan before it is written"
        new = sum(1 for c in plan.open_conflicts if c.new)
        if new:
            return f"{new} new conflict{'s' if new != 1 else ''} since the last sync"
        if plan.archive.verdict != "ok":
            return "archives that need a confirmation"
        if self.holds(site):
            return "archives held for a person"
        return None

    # --- holds ---------------------------------------------------------------------------------------

    def holds(self, site: str) -> list[HoldView]:
        from core.sync import service

        return service.holds(self.store, site)

    def approve_hold(self, site: str, hold_id: int, roster: Roster | None = None) -> int:
        """Apply a hold (planned again against ``roster``, or a fresh read); its run number."""
        from core.sync import service

        run = asyncio.run(service.approve_hold(self.store, site, hold_id, by=self.approver,
                                               roster=roster, transport=self.transport))
        return int(run.number or run.id)

    def reject_hold(self, site: str, hold_id: int) -> None:
        from core.sync import service

        service.reject_hold(self.store, site, hold_id, by=self.approver)

    def write_error_report(self, site: str, plan: SyncPlan) -> tuple[Path, int]:
        """The *Export error report* CSV of the plan in the export folder: (path, rows)."""
        from core.sync.report import write_error_report

        path = self._export_path("errors", site)
        return path, write_error_report(plan, path)

    def _export_path(self, what: str, site: str) -> Path:
        slug = re.sub(r"[^A-Za-z0-9]+", "-", site).strip("-").lower() or "site"
        path = self.export_dir / f"{what}-{slug}-{self.now():%Y%m%d-%H%M%S}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    # --- invites -------------------------------------------------------------------------------------

    def invites(self, site: str) -> list[Invite]:
        from core import accounts as acc

        return acc.pending_invites(self._site(site))

    def write_invites(self, site: str, invites: list[Invite]) -> Path:
        """Write the CSV (spreadsheet formulas neutralised by ``invites_csv``); returns its path."""
        from core import accounts as acc

        path = self._export_path("invites", site)
        path.write_text(acc.invites_csv(invites), encoding="utf-8")
        return path

    def mark_invited(self, site: str, invites: list[Invite]) -> tuple[int, list[Invite]]:
        """Mark them invited; returns how many, and who is left to invite."""
        from core import accounts as acc

        s = self._site(site)
        return acc.mark_invited(s, invites), acc.pending_invites(s)

    # --- accounts ------------------------------------------------------------------------------------

    def accounts(self, site: str) -> list[AccountView]:
        from core.accounts import list_accounts

        return list_accounts(self._site(site))

    def merge(self, site: str, keep: str, absorb: str) -> MergeOutcome:
        import json

        from core.accounts import list_accounts, merge_accounts

        s = self._site(site)
        run = merge_accounts(self.store, s, keep=keep, absorb=absorb)
        data = json.loads(run.counts or "{}")
        return MergeOutcome(int(data.get("entries_moved", 0)),
                            float(data.get("hours_moved", 0)), list_accounts(s))

    # --- hours ----------------------------------------------------------------------------------------

    def hours(self, site: str) -> HoursState:
        """Entries, pending first (newest first within), and the outbox counts."""
        from core.hours import list_entries
        from core.writeback.status import outbox_counts

        s = self._site(site)
        entries = list_entries(s)
        entries.sort(key=lambda e: e.status != "pending")
        return HoursState(entries, outbox_counts(s))

    def approve(self, site: str, ids: list[int]) -> None:
        from core.hours import approve

        approve(self._site(site), ids, by=self.approver)

    def reject(self, site: str, ids: list[int]) -> None:
        from core.hours import reject

        reject(self._site(site), ids)

    # --- write-back ------------------------------------------------------------------------------------

    def writeback(self, site: str) -> WriteBackState:
        from core.connection import connection_info
        from core.writeback.outbox import failed_rows
        from core.writeback.status import outbox_counts, writeback_state

        s = self._site(site)
        enabled, reason = writeback_state(s)
        info = connection_info(s)
        return WriteBackState(
            enabled=enabled, reason=reason,
            people_write=info.people_write if info else None,
            base_url=info.base_url if info else None,
            is_sandbox=info.is_sandbox if info else False,
            counts=outbox_counts(s), failed=failed_rows(s),
        )

    def retry_failed(self, site: str) -> int:
        from core.writeback.outbox import requeue_failed

        return requeue_failed(self._site(site))

    async def send_now(self, site: str, on_progress: Callable[[RunReport], None]) -> RunReport:
        """One drain of the write-back worker (async: run it on an event loop)."""
        from core.connection import check_connection, open_client
        from core.writeback.worker import WriteBackWorker

        s = self._site(site)
        client = open_client(self.store, s, transport=self.transport)
        async with client:
            worker = WriteBackWorker(
                self.store, s, client,
                recheck=lambda: check_connection(self.store, s, transport=self.transport),
                on_progress=on_progress,
            )
            return await worker.drain()

    # --- history ---------------------------------------------------------------------------------------

    def history(self, site: str, limit: int = 200) -> list[RunSummary]:
        from core.sync import service

        return service.history(self.store, site, limit=limit)

    def run_changes(self, run_id: int, cap: int) -> RunChanges:
        """The first ``cap`` changes of a run, with each account's email (or name)."""
        from core.sync import service
        from store.models import Account

        raw = service.changes_of(self.store, run_id)
        ids = {c["accountId"] for c in raw[:cap] if c["accountId"] is not None}
        names = {
            a.id: a.email or f"{a.first_name} {a.last_name}".strip()
            for a in Account.select().where(Account.id.in_(sorted(ids)))
        }
        return RunChanges(raw[:cap], names, len(raw))

    def undo(self, site: str) -> dict[str, Any]:
        """Revert the latest sync or merge; returns the undo run's counts."""
        import json

        from core.sync import service

        return dict(json.loads(service.undo(self.store, site).counts or "{}"))

    # --- families ----------------------------------------------------------------------------------------

    def families(self, site: str) -> FamiliesState:
        """The saved family groups with the active accounts of each."""
        from core.sync import service
        from core.sync.text import clean_text
        from store.models import Account

        s = self._site(site)
        doc = service.load_setup(self.store, s)
        if doc is None:
            return FamiliesState(False, [])
        by_family: dict[str, list[str]] = defaultdict(list)
        ids = sorted({str(i) for g in doc.family_groups for i in g})
        for a in (Account.select(Account.email, Account.first_name, Account.last_name,
                                 Account.family_key)
                  .where((Account.site == s.id) & Account.family_key.in_(ids)
                         & (Account.status == "active"))
                  .order_by(Account.last_name, Account.first_name)):
            name = f"{a.first_name} {a.last_name}".strip() or a.email or ""
            by_family[str(a.family_key)].append(clean_text(name))
        groups = [
            FamilyGroup(tuple(sorted(g)), [n for i in sorted(g) for n in by_family.get(str(i), [])])
            for g in sorted(doc.family_groups, key=min)
        ]
        return FamiliesState(True, groups)

    def group_families(self, site: str, ids: list[int]) -> tuple[int, ...]:
        """Group the ids into one household; returns the whole group they are now part of."""
        from core.sync import service

        doc = service.group_families(self.store, site, ids)
        return tuple(next((g for g in doc.family_groups if set(ids) <= set(g)), sorted(ids)))


__all__ = ["ArchiveQuestion", "CancelToken", "Cancelled", "Workspace", "archive_question"]
