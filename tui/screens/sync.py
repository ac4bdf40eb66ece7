"""Sync: apply the previewed plan (or, from Home, Begin Sync → Sync: read, plan, apply), then the
result: what changed, who waits, and the new accounts to invite (CSV export, mark invited)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import ProgressBar, Static

from core.workspace import CancelToken, SyncOutcome
from tui.flow import StepId
from tui.screens.invites import INVITE_COLUMNS, InvitesActions, invite_cells
from tui.screens.preview import export_error_report
from tui.services import Services, plural
from tui.widgets.lazy_table import LazyTable
from tui.widgets.safe_text import safe_text

if TYPE_CHECKING:
    from core.facts.fetch import FetchProgress
    from core.roster import Roster
    from core.sync.plan import SyncPlan


class Stage(Message):
    def __init__(self, text: str, step: int) -> None:
        super().__init__()
        self.text = text
        self.step = step


def result_text(o: SyncOutcome) -> Text:
    c = o.plan.counts()
    t = Text(end="")
    if o.run is None:
        t.append("✓ Nothing to change: ", style="bold green")
        t.append("the site already matches FACTS.")
    else:
        t.append(f"✓ Synced (run {o.run}): ", style="bold green")
        bits = [f"{c['added']} new", f"{c['linked']} merged by email", f"{c['updated']} updated",
                f"{c['archived']} archived", f"{c['restored']} restored",
                f"{c['unchanged']} unchanged", f"{c['skipped']} skipped"]
        t.append(" · ".join(bits))
    waiting = len(o.plan.of("conflict"))
    if waiting:
        t.append(f"\n{plural(waiting, 'person', 'people')} wait for a decision "
                 f"({plural(len(o.plan.open_conflicts), 'conflict')}) — press c to decide.",
                 style="yellow")
    if o.hold is not None:
        t.append(f"\n⚠ Held for a person (hold {o.hold.id}): "
                 f"{plural(len(o.hold.rows), 'archive')} not made — ", style="yellow")
        t.append_text(safe_text(o.hold.reason, 300, style="yellow", wrap=True))
        t.append(". Begin Sync shows them in the Preview, where a approves them.", style="dim")
    else:
        for reason in o.plan.archive.reasons:
            if o.plan.archive.verdict == "refused":
                t.append("\n⚠ ", style="yellow")
                t.append_text(safe_text(reason, 300, wrap=True))
    if o.plan.unreadable:
        held = len(o.plan.held)
        t.append(f"\n⚠ Unreadable: {plural(len(o.plan.unreadable), 'FACTS record')} left out"
                 + (f", {plural(held, 'account')} kept as they are" if held else "")
                 + " — r exports the error report.", style="yellow")
    for line in o.merged:
        t.append("\n✓ ", style="green")
        t.append_text(safe_text(line, 200))
    for line in o.merge_errors:
        t.append("\n✗ ", style="red")
        t.append_text(safe_text(line, 300, wrap=True))
    return t


class SyncScreen(InvitesActions):
    TITLE_TEXT = "Sync"
    STEP = StepId.SYNC
    HELP = """\
# Sync

The plan is written in **one transaction**: all of it, or nothing. Every change is journaled,
so History can undo the latest run.

Afterwards: the new accounts to invite. **e** exports them to CSV, **i** marks them invited.
**r** exports the error report: every record left out (unreadable, skipped, waiting) with why.
People waiting on a conflict did not get an account yet: **c** opens the conflicts.
**Enter** returns Home.
"""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back", tooltip="Back (cancels a read in progress)"),
        Binding("enter", "done", "Done", id="next", tooltip="Back to Home"),
        Binding("e", "export", "Export", id="sync.export", tooltip="Invites to a CSV file"),
        Binding("i", "mark", "Invited", id="sync.mark", tooltip="Mark the invites sent"),
        Binding("c", "conflicts", "Decide", id="sync.conflicts",
                tooltip="Open the conflicts that wait"),
        Binding("p", "replan", "Plan again", id="sync.replan",
                tooltip="Read and plan again after a refusal"),
        Binding("r", "error_report", "Error report", id="sync.report",
                tooltip="Every left-out record with its reason, to a CSV file"),
    ]

    finished: reactive[bool] = reactive(False, bindings=True)
    failed: reactive[bool] = reactive(False, bindings=True)

    def __init__(self, services: Services, site: str, *, resync: bool) -> None:
        super().__init__(services, site)
        self.resync = resync
        self.outcome: SyncOutcome | None = None
        self.invites = []
        self.steps = 4 if resync else 3
        self.cancel = CancelToken()

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

    def read_and_plan(self) -> None:
        def progress(p: FetchProgress) -> None:
            self.post_message(Stage(f"Reading FACTS… {p.requests} requests, "
                                    f"{p.records:,} records", 0))

        self.post_message(Stage("Reading FACTS, then planning with the saved setup…", 0))
        self.cancel = CancelToken()
        self.run_core(self.core.read_and_plan, self.flow.site, progress, self.cancel,
                      then=self._planned, failed=self._failed)

    def _planned(self, read: tuple[Roster, SyncPlan]) -> None:
        roster, plan = read
        self.flow.read(roster)
        self.flow.plan = plan
        site = self.flow.site

        def decided(reason: str | None) -> None:
            if reason is None:
                self.apply(plan, False)
                return
            self.notify(f"Preview first: {reason}.", markup=False)
            self.open_step(StepId.PREVIEW, replace=True)

        self.run_core(self.core.preview_first, site, plan, then=decided, failed=self._failed)

    # --- apply -----------------------------------------------------------------------------------

    def apply(self, plan: SyncPlan, confirm: bool) -> None:
        base = 2 if self.resync else 0
        merges = list(self.flow.merges)
        stage = "Writing the changes (one transaction)"
        self.post_message(Stage(stage + (", then the merges you picked…" if merges else "…"),
                                base))
        site = self.flow.site
        self.run_core(lambda: self.core.apply(site, plan, confirm_archive=confirm, merges=merges),
                      then=self._done, failed=self._apply_failed, group="apply")

    def _apply_failed(self, message: str) -> None:
        self._failed(message + (" Press p to plan again." if "changed since" in message else ""))

    def _done(self, outcome: SyncOutcome) -> None:
        self.outcome = outcome
        self.flow.merges = []
        self.flow.forget_plan()
        self.finished = True
        self.query_one("#sync-stage", Static).update(Text("Done.", style="bold"))
        self.query_one("#sync-bar", ProgressBar).update(total=self.steps, progress=self.steps)
        self.query_one("#sync-result", Static).update(result_text(outcome))
        table = self.query_one("#invites", LazyTable)
        table.display = True
        self.invites_changed(outcome.invites)
        table.focus()

    def _failed(self, message: str) -> None:
        self.failed = True
        self.refresh_bindings()
        t = Text("Not synced: ", style="bold red", end="")
        t.append_text(safe_text(message, 600, wrap=True))
        self.query_one("#sync-stage", Static).update(Text("Stopped.", style="bold"))
        self.query_one("#sync-result", Static).update(t)

    # --- after --------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("export", "mark"):
            return True if self.invites else None
        if action == "conflicts":
            return True if self.outcome is not None and self.outcome.plan.open_conflicts else None
        if action == "replan":
            return self.failed
        if action == "error_report":
            return True if self.report_plan is not None else None
        if action == "done":
            return True if self.finished or self.failed else None
        return True

    @property
    def report_plan(self) -> SyncPlan | None:
        """The plan the error report is about: the one applied, or the one that was refused."""
        return self.outcome.plan if self.outcome is not None else self.flow.plan

    def action_error_report(self) -> None:
        if self.report_plan is not None:
            export_error_report(self, self.report_plan)

    def action_done(self) -> None:
        self.navigator.go_home()

    def action_back(self) -> None:
        self.cancel.cancel()
        if self.finished:
            self.navigator.go_home()
            return
        self.dismiss()

    def action_conflicts(self) -> None:
        if self.outcome is None or self.flow.roster is None:
            return
        self.flow.forget_plan()  # the accounts changed: the conflicts screen plans again
        self.open_step(StepId.CONFLICTS)

    def action_replan(self) -> None:
        self.flow.forget_plan()
        self.resync = True
        self.query_one("#sync-result", Static).update("")
        self.start()
