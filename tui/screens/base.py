"""The base of every screen, in the flow or beside it: header, body, walkthrough, footer.

It takes the app's :class:`~tui.services.Services` (and the site, where the screen has one),
runs core's blocking calls off the event loop (:meth:`FactsyncScreen.run_core`) and turns their
failures into what the admin sees in one place (:meth:`FactsyncScreen._worker_done`, Harlequin's
one ``@on(Worker.StateChanged)``). Navigation goes through the flow registry: ``next_step``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input, Static
from textual.worker import Worker, WorkerState

from core.workspace import Cancelled, Workspace
from tui.flow import Navigator, StepId, step
from tui.services import Services, SiteFlow
from tui.widgets.chrome import KeyStrip, StepHeader, WalkthroughPanel
from tui.widgets.safe_text import clean_display

if TYPE_CHECKING:
    from core.sync.plan import SyncPlan

R = TypeVar("R")
T = TypeVar("T")

RELOAD = Binding("f5", "reload", "Reload", id="reload", show=False, tooltip="Read it again")
"""F5 on the screens beside the flow."""

Done = Callable[[Any], None]
Failed = Callable[[str], None]


def error_text(err: BaseException, user_errors: tuple[type[BaseException], ...]) -> str:
    """The sentence to show for a failure: core's refusals carry one; anything else is a bug."""
    text = clean_display(str(err)).strip()
    if isinstance(err, user_errors):
        return text or err.__class__.__name__
    return f"Something went wrong ({err.__class__.__name__}: {text}). Nothing was changed."


class FactsyncScreen(Screen[R], Generic[R]):
    """A screen of factsync. Subclasses fill :meth:`body` and name their ``STEP``."""

    STEP: ClassVar[StepId | None] = None
    """The step of the flow registry this screen shows (its title, walkthrough, next step)."""
    TITLE_TEXT: ClassVar[str] = ""
    HELP: ClassVar[str] = ""
    """Markdown for F1: what the screen is for (its keys are listed automatically)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back", tooltip="Go back to the previous screen"),
    ]

    def __init__(self, services: Services, site: str | None = None) -> None:
        super().__init__()
        self.services = services
        self.site = site
        self._then: dict[Worker[Any], tuple[Done | None, Failed | None]] = {}

    @property
    def core(self) -> Workspace:
        """Core's facade: every use case the screen offers is one call of it."""
        return self.services.core

    @property
    def flow(self) -> SiteFlow:
        assert self.site is not None
        return self.services.flow(self.site)

    @property
    def navigator(self) -> Navigator:
        return cast(Navigator, self.app)

    # --- layout -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StepHeader(self.header_title(), self.site, self.STEP)
        with Vertical(id="body"):
            yield from self.body()
        yield WalkthroughPanel(step(self.STEP).explain if self.STEP else "")
        yield Footer(compact=True)

    def header_title(self) -> str:
        return self.TITLE_TEXT or (step(self.STEP).title if self.STEP else "")

    def body(self) -> ComposeResult:
        yield Static(Text(""))

    def on_mount(self) -> None:
        self._walkthrough()

    def on_screen_resume(self) -> None:
        self._walkthrough()

    def _walkthrough(self) -> None:
        app = self.app
        self.query_one(WalkthroughPanel).display = bool(getattr(app, "walkthrough", False))
        self.query_one(KeyStrip).show(list(getattr(app, "keys", ())))

    # --- core calls off the event loop ---------------------------------------------------------

    def run_core(self, call: Callable[..., T], *args: Any, then: Callable[[T], None] | None = None,
                 failed: Failed | None = None, group: str = "core",
                 exclusive: bool = True) -> Worker[T]:
        """Run ``call(*args)`` in a thread; ``then(result)`` on the screen when it returns.

        A refusal shows as ``failed(message)`` when given, else as an error notification.
        """
        # a description of our own: Textual's default is repr(work), which for a call holding a
        # 20,000-family roster takes seconds
        name = getattr(call, "__name__", "core call")
        worker: Worker[T] = self.run_worker(partial(call, *args), name=name, description=name,
                                            thread=True, group=group, exclusive=exclusive,
                                            exit_on_error=False)
        self._then[worker] = (then, failed)
        return worker

    def run_core_async(self, call: Awaitable[T], *, then: Callable[[T], None] | None = None,
                       failed: Failed | None = None, group: str = "core") -> Worker[T]:
        """The same for core's async calls (they run on the app's loop)."""
        worker: Worker[T] = self.run_worker(call, name=group, description=group, group=group,
                                            exclusive=True, exit_on_error=False)
        self._then[worker] = (then, failed)
        return worker

    @on(Worker.StateChanged)
    def _worker_done(self, event: Worker.StateChanged) -> None:
        """The one place a core call's result or failure reaches the screen."""
        if event.state not in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return
        then, failed = self._then.pop(event.worker, (None, None))
        if event.state is WorkerState.SUCCESS:
            if then is not None and self.is_attached:
                then(event.worker.result)
            return
        err = event.worker.error
        if event.state is WorkerState.CANCELLED or err is None or isinstance(err, Cancelled):
            return
        message = error_text(err, self.services.core.user_errors)
        if failed is not None and self.is_attached:
            failed(message)
        else:
            self.notify(message, severity="error", markup=False)

    def with_plan(self, show: Callable[[SyncPlan], None]) -> None:
        """Show the flow's plan, making it first (off the loop) when the flow has none.

        The planner takes the review model's selection when there is one (no second select).
        """
        flow = self.flow
        if flow.plan is not None:
            show(flow.plan)
            return
        roster = flow.roster
        assert roster is not None

        def made(plan: SyncPlan) -> None:
            flow.plan = plan
            show(plan)

        self.run_core(self.core.plan, flow.site, roster, flow.review, then=made, group="plan")

    # --- navigation -----------------------------------------------------------------------------

    def next_step(self) -> None:
        """Open the step after this one (the flow registry says which)."""
        nxt = step(self.STEP).next if self.STEP else None
        if nxt is not None:
            self.open_step(nxt)

    def open_step(self, step_id: StepId, *, replace: bool = False) -> None:
        self.navigator.open_step(step_id, self.site, replace=replace)

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
