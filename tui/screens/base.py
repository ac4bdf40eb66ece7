"""The base of every step: header, body, walkthrough panel, footer; Escape goes back, F1 helps."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from core.sites import SiteError
from core.sync import service
from core.sync.plan import SyncPlan
from tui.services import Services, SiteFlow, error_text
from tui.widgets.chrome import KeyStrip, StepHeader, WalkthroughPanel

if TYPE_CHECKING:
    from tui.app import FactsyncApp

R = TypeVar("R")


class WizardScreen(Screen[R], Generic[R]):
    """A screen of the wizard. Subclasses fill :meth:`body` and name their step."""

    def plan_then(self, show: Callable[[SyncPlan], None]) -> None:
        """Plan from the fetched roster (in a thread worker), keep it on the flow, then show it.

        Review, Conflicts and Preview all need the current plan; one copy of how it is made.
        """
        roster = self.flow.roster
        assert roster is not None
        try:
            plan = service.make_plan(self.services.store, self.flow.site, roster)
        except SiteError as err:
            self.app.call_from_thread(self.notify, error_text(err), severity="error",
                                      markup=False)
            return
        self.flow.plan = plan
        self.app.call_from_thread(show, plan)

    TITLE_TEXT: ClassVar[str] = ""
    STEP: ClassVar[str | None] = None
    """The flow step (see ``FLOW_STEPS``), None for screens beside the flow."""
    HELP: ClassVar[str] = ""
    """Markdown for F1: what the step is for, and its keys (listed automatically)."""
    EXPLAIN: ClassVar[str] = ""
    """The walkthrough panel's plain-words explanation."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back", tooltip="Go back one step"),
    ]

    def __init__(self, services: Services, site: str | None = None) -> None:
        super().__init__()
        self.services = services
        self.site = site

    @property
    def fs_app(self) -> FactsyncApp:
        return cast("FactsyncApp", self.app)

    @property
    def flow(self) -> SiteFlow:
        assert self.site is not None
        return self.services.flow(self.site)

    def compose(self) -> ComposeResult:
        yield StepHeader(self.header_title(), self.site, self.STEP)
        with Vertical(id="body"):
            yield from self.body()
        yield WalkthroughPanel(self.EXPLAIN)
        yield Footer(compact=True)

    def header_title(self) -> str:
        return self.TITLE_TEXT

    def body(self) -> ComposeResult:
        yield Static(Text(""))

    def on_mount(self) -> None:
        self._walkthrough()

    def on_screen_resume(self) -> None:
        self._walkthrough()

    def _walkthrough(self) -> None:
        self.query_one(WalkthroughPanel).display = self.fs_app.walkthrough
        self.query_one(KeyStrip).show(list(self.fs_app.keys))

    def action_back(self) -> None:
        if self.close_filter():
            return
        if len(self.app.screen_stack) > 1:
            self.dismiss()

    def close_filter(self) -> bool:
        """Escape in a shown filter box clears and hides it first (True when it did)."""
        for box in self.query("Input.filter").results(Input):
            if box.display:
                box.value = ""
                box.display = False
                self.focus_next()
                return True
        return False
