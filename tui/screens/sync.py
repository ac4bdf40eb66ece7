"""Sync: apply the previewed plan (or, from Home, Begin Sync → Sync: read, plan, apply), then the
result: what changed, who waits, and the new accounts to invite (CSV export, mark invited)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import ProgressBar, Static
from textual.worker import get_current_worker

from core import accounts as acc
from core.facts.errors import FactsError
from core.facts.fetch import FetchProgress
from core.sites import SiteError, get_site
from core.sync import service
from core.sync.apply import StalePlan, SyncError
from core.sync.plan import SyncPlan
from tui import navigation
from tui.screens.base import WizardScreen
from tui.screens.dialogs import ConfirmScreen
from tui.screens.invites import INVITE_COLUMNS, invite_cells, write_invites
from tui.services import Cancelled, Services, error_text, plural
from tui.widgets.lazy_table import LazyTable
from tui.widgets.safe_text import safe_text


class Stage(Message):
    def __init__(self, text: str, step: int) -> None:
        super().__init__()
        self.text = text
        self.step = step


@dataclass
class Outcome:
    plan: SyncPlan
    run_id: int | None
    merged: list[str] = field(default_factory=list)
    merge_errors: list[str] = field(default_factory=list)
    invites: list[acc.Invite] = field(default_factory=list)


def result_text(o: Outcome) -> Text:
    c = o.plan.counts()
    t = Text(end="")
    if o.run_id is None:
        t.append("✓ Nothing to change: ", style="bold green")
        t.append("the site already matches FACTS.")
    else:
        t.append(f"✓ Synced (run {o.run_id}): ", style="bold green")
        bits = [f"{c['added']} new", f"{c['linked']} merged by email", f"{c['updated']} updated",
                f"{c['archived']} archived", f"{c['restored']} restored",
                f"{c['unchanged']} unchanged", f"{c['skipped']} skipped"]
        t.append(" · ".join(bits))
    waiting = len(o.plan.of("conflict"))
    if waiting:
        t.append(f"\n{plural(waiting, 'person', 'people')} wait for a decision "
                 f"({plural(len(o.plan.open_conflicts), 'conflict')}) — press c to decide.",
                 style="yellow")
    for reason in o.plan.archive.reasons:
        if o.plan.archive.verdict == "refused":
            t.append("\n⚠ ", style="yellow")
            t.append_text(safe_text(reason, 300, wrap=True))
    for line in o.merged:
        t.append("\n✓ ", style="green")
        t.append_text(safe_text(line, 200))
    for line in o.merge_errors:
        t.append("\n✗ ", style="red")
        t.append_text(safe_text(line, 300, wrap=True))
    return t


class SyncScreen(WizardScreen[None]):
    TITLE_TEXT = "Sync"
    STEP = "Sync"
    HELP = """\
# Sync

The plan is written in **one transaction**: all of it, or nothing. Every change is journaled,
so History can undo the latest run.

Afterwards: the new accounts to invite. **e** exports them to CSV, **i** marks them invited.
People waiting on a conflict did not get an account yet: **c** opens the conflicts.
**Enter** returns Home.
"""
    EXPLAIN = (
        "The sync writes the plan in one go (all or nothing). Then it lists the new accounts to "
        "invite: e exports them to a spreadsheet file, i marks them invited. Enter goes Home."
    )

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back", tooltip="Back (cancels a read in progress)"),
        Binding("enter", "done", "Done", id="next", tooltip="Back to Home"),
        Binding("e", "export", "Export", id="sync.export", tooltip="Invites to a CSV file"),
        Binding("i", "mark", "Invited", id="sync.mark", tooltip="Mark the invites sent"),
        Binding("c", "conflicts", "Decide", id="sync.conflicts",
                tooltip="Open the conflicts that wait"),
        Binding("p", "replan", "Plan again", id="sync.replan",
                tooltip="Read and plan again after a refusal"),
    ]

    finished: reactive[bool] = reactive(False, bindings=True)
    failed: reactive[bool] = reactive(False, bindings=True)

    def __init__(self, services: Services, site: str, *, resync: bool) -> None:
        super().__init__(services, site)
        self.resync = resync
        self.outcome: Outcome | None = None
        self.steps = 4 if resync else 3

    def header_title(self) -> str:
        return "Begin Sync → Sync" if self.resync else "Sync"

    def body(self) -> ComposeResult:
        yield Static(Text("Starting…", style="bold"), id="sync-stage")
        yield ProgressBar(total=self.steps, show_eta=False, id="sync-bar")
        yield Static(id="sync-result", classes="panel")
        yield Static(id="invites-title", classes="section-title")
        yield LazyTable(INVITE_COLUMNS, invite_cells, id="invites", select_on_enter=False,
                        empty="No new account to invite.")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#invites", LazyTable).display = False
        self.start()

    def start(self) -> None:
        self.finished = False
        self.failed = False
        if self.resync:
            self.read_and_plan()
        else:
            plan = self.flow.plan
            assert plan is not None
            self.apply(plan, self.flow.confirm_archive)

    def on_stage(self, message: Stage) -> None:
        if self.finished or self.failed:
            return  # a late progress message must not cover the result
        self.query_one("#sync-stage", Static).update(Text(message.text, style="bold"))
        self.query_one("#sync-bar", ProgressBar).update(progress=message.step)

    # --- Begin Sync: read and plan with the saved setup ------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False)
    def read_and_plan(self) -> None:
        worker = get_current_worker()
        store, site = self.services.store, self.flow.site

        def progress(p: Any) -> None:
            if isinstance(p, FetchProgress):
                self.post_message(Stage(f"Reading FACTS… {p.requests} requests, "
                                        f"{p.records:,} records", 0))

        try:
            self.post_message(Stage("Reading FACTS…", 0))
            roster = self.services.run_async(
                lambda: service.fetch(store, site, progress, transport=self.services.transport),
                cancelled=lambda: worker.is_cancelled,
            )
            self.flow.roster = roster
            self.post_message(Stage("Planning with the saved setup…", 1))
            plan = service.make_plan(store, site, roster)
        except Cancelled:
            return
        except (FactsError, SiteError, SyncError) as err:
            self.app.call_from_thread(self._failed, error_text(err))
            return
        self.flow.plan = plan
        self.flow.confirm_archive = False
        self.app.call_from_thread(self._planned, plan)

    def _planned(self, plan: SyncPlan) -> None:
        if not plan.needs_confirmation:
            self.apply(plan, False)
            return
        body = Text(end="")
        body.append(f"This sync would archive {plan.archive.archive_count} of "
                    f"{plan.archive.synced_count} accounts it manages ({plan.archive.share:.0%}).\n",
                    style="bold")
        body.append("Archived accounts keep their hours and come back if they match again.\n\n")
        for it in plan.of("archive")[:12]:
            body.append("• ")
            body.append_text(safe_text(it.name, 30))
            body.append(" — ")
            body.append_text(safe_text(it.reason, 60, style="dim"))
            body.append("\n")
        if len(plan.of("archive")) > 12:
            body.append(f"…and {len(plan.of('archive')) - 12} more\n", style="dim")

        def answered(yes: bool | None) -> None:
            if yes:
                self.flow.confirm_archive = True
                self.apply(plan, True)
            else:
                self._failed("Nothing was written: the archive was not confirmed. Review the "
                             "setup (Enter on Home) or press p to read and plan again.")

        self.app.push_screen(
            ConfirmScreen("Archive many accounts?", body,
                          yes=f"Archive {plan.archive.archive_count}"),
            answered,
        )

    # --- apply -----------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="apply", exit_on_error=False)
    def apply(self, plan: SyncPlan, confirm: bool) -> None:
        store, name = self.services.store, self.flow.site
        base = 2 if self.resync else 0
        self.post_message(Stage("Writing the changes (one transaction)…", base))
        run_id: int | None = None
        try:
            if plan.writes:
                run = service.apply_plan(store, name, plan, confirm_archive=confirm)
                run_id = run.id
        except StalePlan as err:
            self.app.call_from_thread(self._failed, error_text(err) + " Press p to plan again.")
            return
        except (SiteError, SyncError) as err:
            self.app.call_from_thread(self._failed, error_text(err))
            return
        outcome = Outcome(plan, run_id)
        site = get_site(store, name)
        if self.flow.merges:
            self.post_message(Stage("Merging the duplicates you picked…", base + 1))
            for keep, absorb in self.flow.merges:
                try:
                    acc.merge_accounts(site, keep=keep, absorb=absorb)
                    outcome.merged.append(f"merged {absorb} into {keep}")
                except (SyncError, SiteError) as err:
                    outcome.merge_errors.append(f"{absorb} → {keep}: {error_text(err)}")
            self.flow.merges = []
        outcome.invites = acc.pending_invites(site)
        self.flow.forget_plan()
        self.app.call_from_thread(self._done, outcome)

    def _done(self, outcome: Outcome) -> None:
        self.outcome = outcome
        self.finished = True
        self.query_one("#sync-stage", Static).update(Text("Done.", style="bold"))
        self.query_one("#sync-bar", ProgressBar).update(total=self.steps, progress=self.steps)
        self.query_one("#sync-result", Static).update(result_text(outcome))
        title = Text(f"New accounts to invite ({len(outcome.invites):,})", style="bold", end="")
        if outcome.invites:
            title.append("   e export CSV · i mark invited", style="dim")
        self.query_one("#invites-title", Static).update(title)
        table = self.query_one("#invites", LazyTable)
        table.display = True
        table.set_rows(outcome.invites, keep_cursor=False)
        table.focus()

    def _failed(self, message: str) -> None:
        self.failed = True
        t = Text("Not synced: ", style="bold red", end="")
        t.append_text(safe_text(message, 600, wrap=True))
        self.query_one("#sync-stage", Static).update(Text("Stopped.", style="bold"))
        self.query_one("#sync-result", Static).update(t)

    # --- after --------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("export", "mark"):
            return True if self.outcome is not None and self.outcome.invites else None
        if action == "conflicts":
            return True if self.outcome is not None and self.outcome.plan.open_conflicts else None
        if action == "replan":
            return self.failed
        if action == "done":
            return True if self.finished or self.failed else None
        return True

    def action_done(self) -> None:
        navigation.go_home(self.fs_app)

    def action_back(self) -> None:
        for worker in self.workers:
            if not worker.is_finished and worker.group != "apply":
                worker.cancel()
        if self.finished:
            navigation.go_home(self.fs_app)
            return
        self.dismiss()

    def action_conflicts(self) -> None:
        if self.outcome is None or self.flow.roster is None:
            return
        self.flow.forget_plan()  # the accounts changed: the conflicts screen plans again
        screen = navigation.screen_for(self.services, self.flow.site, "conflicts")
        if screen is not None:
            self.app.push_screen(screen)

    def action_replan(self) -> None:
        self.flow.forget_plan()
        self.resync = True
        self.query_one("#sync-result", Static).update("")
        self.start()

    def action_export(self) -> None:
        if self.outcome is None or not self.outcome.invites:
            return
        self._export(list(self.outcome.invites))

    @work(thread=True, exclusive=True, group="export", exit_on_error=False)
    def _export(self, invites: list[acc.Invite]) -> None:
        path = write_invites(self.services, self.flow.site, invites)
        self.app.call_from_thread(self.notify, f"{plural(len(invites), 'invite')} written to "
                                  f"{path}", markup=False)

    def action_mark(self) -> None:
        if self.outcome is None or not self.outcome.invites:
            return
        invites = list(self.outcome.invites)

        def answered(yes: bool | None) -> None:
            if yes:
                self._mark(invites)

        self.app.push_screen(
            ConfirmScreen("Mark invited?",
                          Text(f"Mark {plural(len(invites), 'account')} as invited?"),
                          yes="Mark invited"),
            answered,
        )

    @work(thread=True, exclusive=True, group="mark", exit_on_error=False)
    def _mark(self, invites: list[acc.Invite]) -> None:
        site = get_site(self.services.store, self.flow.site)
        n = acc.mark_invited(site, invites)
        left = acc.pending_invites(site)
        self.app.call_from_thread(self._marked, n, left)

    def _marked(self, n: int, left: list[acc.Invite]) -> None:
        if self.outcome is not None:
            self.outcome.invites = left
            self.query_one("#invites", LazyTable).set_rows(left, keep_cursor=False)
            title = Text(f"New accounts to invite ({len(left):,})", style="bold")
            self.query_one("#invites-title", Static).update(title)
            self.refresh_bindings()
        self.notify(f"{plural(n, 'account')} marked invited.")
