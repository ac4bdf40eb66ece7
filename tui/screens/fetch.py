"""Read from FACTS: a progress bar with requests, records and rate-limit waits; Escape cancels."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import ProgressBar, Static
from textual.worker import Worker

from core.sync.criteria import enrolled_count
from core.workspace import CancelToken, ReadResult
from tui.flow import StepId
from tui.screens.base import FactsyncScreen
from tui.services import Services, plural
from tui.widgets.safe_text import safe_text

if TYPE_CHECKING:
    from core.facts.fetch import FetchProgress
    from core.roster import Roster

STEPS = {
    "parents": ("students", "parent links", "people", "family memberships", "families", "done"),
    "students": ("students", "family memberships", "families", "people", "done"),
}


class Progressed(Message):
    def __init__(self, progress: FetchProgress) -> None:
        super().__init__()
        self.progress = progress


def roster_summary(roster: Roster) -> Text:
    enrolled = enrolled_count(roster)
    t = Text(end="")
    t.append("Read from FACTS: ", style="bold")
    t.append(f"{plural(len({s.studentId for s in roster.students}), 'student')} "
             f"({enrolled:,} enrolled), {plural(len(roster.people), 'person', 'people')}, "
             f"{plural(len(roster.families), 'family', 'families')}")
    if roster.kind == "parents":
        t.append(f", {plural(len(roster.parent_links), 'parent link')}")
    t.append(f" in {plural(roster.requests, 'request')}.")
    return t


class FetchScreen(FactsyncScreen[None]):
    TITLE_TEXT = "Read from FACTS"
    STEP = StepId.READ
    HELP = """\
# Read from FACTS

factsync reads what the sync needs in as few requests as it can: every student with their
enrollment, and for a parents site the parent links, the parents and the families. The bar
shows the requests made, the records received and any waits FACTS asked for (rate limits).

Nothing is changed, here or in FACTS. **Escape** cancels the read.
"""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Cancel", id="back", tooltip="Cancel the read and go back"),
        Binding("enter", "next", "Next", id="next", tooltip="Go on"),
        Binding("r", "again", "Read again", id="fetch.again", tooltip="Read FACTS again"),
    ]

    done: reactive[bool] = reactive(False, bindings=True)

    def __init__(self, services: Services, site: str, *, then: StepId = StepId.CRITERIA) -> None:
        super().__init__(services, site)
        self.then = then
        self.kind = "parents"
        self.seen_steps: list[str] = []
        self.worker: Worker[ReadResult] | None = None
        self.cancel = CancelToken()

    def body(self) -> ComposeResult:
        yield Static(Text("Reading from FACTS…", style="bold"), id="fetch-title")
        yield ProgressBar(total=len(STEPS["parents"]), show_eta=False, id="fetch-bar")
        yield Static(id="fetch-step")
        yield Static(id="fetch-counts", classes="panel")

    def on_mount(self) -> None:
        super().on_mount()
        self.action_again()

    def action_again(self) -> None:
        self.done = False
        self.seen_steps = []
        self.query_one("#fetch-title", Static).update(Text("Reading from FACTS…", style="bold"))
        self.query_one("#fetch-bar", ProgressBar).update(progress=0)
        self._counts(None)
        self.cancel = CancelToken()
        self.run_core(self.core.setup, self.flow.site, then=lambda setup: self._kind(setup.kind),
                      group="fetch-kind")
        self.worker = self.run_core(self.core.read, self.flow.site, self.post_progress,
                                    self.cancel, then=self._finished, failed=self._failed)

    def post_progress(self, progress: FetchProgress) -> None:
        """Called on the read's thread: hand the figures to the screen as a message."""
        self.post_message(Progressed(progress))

    def _kind(self, kind: str) -> None:
        self.kind = kind
        self.query_one("#fetch-bar", ProgressBar).update(total=len(STEPS.get(kind, ())) or None)

    def on_progressed(self, message: Progressed) -> None:
        if self.done:
            return  # a late progress message must not cover the result
        p = message.progress
        steps = STEPS.get(self.kind, ())
        if p.step in steps and p.step not in self.seen_steps:
            self.seen_steps.append(p.step)
            self.query_one("#fetch-bar", ProgressBar).update(progress=len(self.seen_steps))
        self._counts(p)

    def _counts(self, p: FetchProgress | None, requests: int | None = None) -> None:
        step = Text("Step: ", style="bold", end="")
        step.append("starting" if p is None or p.step == "starting" else f"{p.step} read")
        self.query_one("#fetch-step", Static).update(step)
        waits = p.rate_limit_waits if p else 0
        t = Text(end="")
        t.append(f"{'Requests made':<18}", style="bold")
        t.append(f"{requests if requests is not None else (p.requests if p else 0):,}\n")
        t.append(f"{'Records received':<18}", style="bold")
        t.append(f"{p.records if p else 0:,}\n")
        t.append(f"{'Rate-limit waits':<18}", style="bold")
        t.append(f"{waits:,}")
        if waits:
            t.append("  (FACTS asked factsync to slow down; it waits and goes on)", style="dim")
        self.query_one("#fetch-counts", Static).update(t)

    def _finished(self, read: ReadResult) -> None:
        roster = read.roster
        self.flow.read(roster)
        self.done = True
        bar = self.query_one("#fetch-bar", ProgressBar)
        bar.update(total=1, progress=1)
        title = roster_summary(roster)
        title.append("\nPress Enter to go on.", style="dim")
        self.query_one("#fetch-title", Static).update(title)
        # the final figures, from the read itself: a late progress message never disagrees
        self._counts(read.progress, roster.requests)
        self.query_one("#fetch-step", Static).update(Text("Step: done"))
        self.set_focus(None)

    def _failed(self, message: str) -> None:
        t = Text("The read failed: ", style="bold red", end="")
        t.append_text(safe_text(message, 600, wrap=True))
        t.append("\nNothing was changed. Press r to read again, or Escape to go back.", style="dim")
        self.query_one("#fetch-title", Static).update(t)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next":
            return True if self.done else None
        if action == "again":
            return True if self.worker is None or self.worker.is_finished else None
        return True

    def action_back(self) -> None:
        if self.worker is not None and not self.worker.is_finished:
            self.cancel.cancel()
            self.notify("Read cancelled: nothing was changed.")
        self.dismiss()

    def action_next(self) -> None:
        if self.done:
            self.open_step(self.then, replace=True)
