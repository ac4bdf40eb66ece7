"""Conflicts: one row per conflict, the engine's choices for each, and how many are left.

Decisions are saved in the site's setup (``service.decide``) and reused by every later sync; the
plan is made again after each one, so the list always shows what is still open.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import Static

from core.sync.bulk import BulkDecision, bulk_decisions
from core.sync.conflicts import Conflict, ConflictChoice, ConflictPerson
from core.sync.plan import SyncPlan
from core.sync.service import decision_label
from tui.dialogs import ChoiceDialog, ConfirmDialog
from tui.flow import StepId
from tui.screens.base import FactsyncScreen
from tui.services import Services, plural
from tui.widgets.lazy_table import Column, LazyTable
from tui.widgets.safe_text import safe_text

KIND_WORDS = {
    "shared-email-family": "shared in family",
    "shared-email-cross-family": "shared across families",
    "email-taken": "already used on site",
    "missing-email": "no email",
    "invalid-email": "invalid email",
    "multi-family": "several families",
}
REPLAN_DELAY = 0.4
"""Seconds after the last decision before the plan is made again in the background."""


def _who(p: ConflictPerson) -> Text:
    t = safe_text(p.name, 40, style="bold")
    t.append(f" (person {p.person_id}" + (", listed first" if p.listed_first else "") + ")",
             style="dim")
    return t


def choice_label(o: ConflictChoice) -> Text:
    """One of core's typed choices in the admin's words."""
    email = safe_text(o.email or "", 40)
    if o.kind == "assign" and o.person is not None:
        return Text.assemble("Give ", email, " to ", _who(o.person),
                             (" (the others are skipped)", "dim"))
    if o.kind == "skip-email":
        return Text("Skip everyone with this email")
    if o.kind == "email2-email":
        label = Text("Use each person's second email (email2)", end="")
        if not o.possible:
            label.append(" — not everyone has one", style="dim")
        return label
    assert o.person is not None
    if o.kind == "skip-person":
        return Text.assemble("Skip ", _who(o.person))
    if o.kind == "email2-person":
        return Text.assemble("Use the second email of ", _who(o.person), ": ",
                             safe_text(o.person.email2 or "none", 40))
    return Text.assemble("Accept ", _who(o.person), f" in family {o.family_id}")


def _people(c: Conflict) -> Text:
    names = ", ".join(p.name for p in c.people)
    return safe_text(names)


def conflict_cells(c: Conflict) -> list[str | Text]:
    flag = {"red": ("● red", "bold red"), "orange": ("● orange", "bold yellow"),
            "gray": ("● done", "dim")}[c.flag]
    return [
        Text(flag[0], style=flag[1]),
        Text(KIND_WORDS.get(c.kind, c.kind)),
        safe_text(c.email or "—"),
        _people(c),
        safe_text(c.decision or "to decide", style="dim" if c.decision else "bold"),
    ]


CONFLICT_COLUMNS = (
    Column("Flag", width=8),
    Column("Conflict", width=22),
    Column("Email", ratio=3),
    Column("People", ratio=4),
    Column("Decision", ratio=2),
)


def left_text(conflicts: tuple[Conflict, ...], waiting: int) -> Text:
    open_ = [c for c in conflicts if c.open]
    red = sum(1 for c in open_ if c.flag == "red")
    t = Text(end="", no_wrap=True, overflow="ellipsis")
    if not open_:
        t.append("Nothing left to decide. ", style="bold green")
    else:
        t.append(f"{len(open_):,} left to decide", style="bold")
        t.append(f" ({red} red, {len(open_) - red} orange) · ")
    t.append(f"{plural(waiting, 'person', 'people')} wait, the rest syncs", style="dim")
    return t


class ConflictsScreen(FactsyncScreen[None]):
    TITLE_TEXT = "Conflicts"
    STEP = StepId.CONFLICTS
    HELP = """\
# Conflicts

Nothing is resolved silently: one email belongs to one account. Each row is a conflict:

- **red**: a family's main contact, or a clash across families: decide first.
- **orange**: a secondary member: can wait.
- **done**: decided (your decision is saved and used by every later sync).

**Enter** opens the choices of the highlighted conflict (give the email to one person, use the
second email, skip...). **b** decides every open conflict of a kind at once (it says how many
and asks first). **u** takes the latest decision back, a single one or one by kind.
People in a conflict wait; everyone else syncs. **n** goes on to the preview.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back", tooltip="Back to the review"),
        Binding("enter", "decide", "Decide", id="conflicts.decide",
                tooltip="Choose how the highlighted conflict is resolved"),
        Binding("b", "bulk", "By kind", id="conflicts.bulk",
                tooltip="Decide every open conflict of a kind at once"),
        Binding("u", "undo", "Undo", id="conflicts.undo", tooltip="Take the latest decision back"),
        Binding("n", "next", "Next", id="next", tooltip="Go on to the preview"),
    ]

    ready: reactive[bool] = reactive(False, bindings=True)

    def __init__(self, services: Services, site: str) -> None:
        super().__init__(services, site)
        self.plan: SyncPlan | None = None
        self.conflicts: tuple[Conflict, ...] = ()
        self._replan_timer: Timer | None = None

    def body(self) -> ComposeResult:
        yield Static(Text("Planning…", style="dim"), id="conflicts-left", classes="totals")
        yield LazyTable(CONFLICT_COLUMNS, conflict_cells, id="conflicts", select_on_enter=False,
                        empty="No conflicts: every matching person has an email of their own.")
        yield Static(id="conflict-detail", classes="detail")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#conflicts", LazyTable).focus()
        self.with_plan(self._show)

    def replan(self) -> None:
        self.flow.forget_plan()
        self.with_plan(self._show)

    def _replan_soon(self) -> None:
        """Plan again once the admin pauses: each decision answers at once, the truth follows."""
        self.flow.forget_plan()
        if self._replan_timer is not None:
            self._replan_timer.stop()
        self._replan_timer = self.set_timer(REPLAN_DELAY, self.replan)

    def _show(self, plan: SyncPlan) -> None:
        self.plan = plan
        self._rows(plan.conflicts)
        self.ready = True

    def _rows(self, conflicts: tuple[Conflict, ...]) -> None:
        self.conflicts = conflicts
        self.query_one("#conflicts", LazyTable).set_rows(list(conflicts))
        waiting = len(self.plan.of("conflict")) if self.plan is not None else 0
        self.query_one("#conflicts-left", Static).update(left_text(conflicts, waiting))
        self._detail()

    @on(LazyTable.Highlighted, "#conflicts")
    def _detail(self) -> None:
        c = self.query_one("#conflicts", LazyTable).current
        box = self.query_one("#conflict-detail", Static)
        if not isinstance(c, Conflict):
            box.update("")
            return
        t = Text(end="")
        if c.decision:
            t.append("Decided: ", style="bold")
            t.append_text(safe_text(c.decision, 80))
            t.append(" (Enter changes it) · ", style="dim")
        t.append_text(safe_text(c.message, 400, wrap=True))
        box.update(t)

    def _decided(self, keys: set[str], label: str) -> None:
        """Show the decision at once (gray), then plan again in the background."""
        self._rows(tuple(replace(c, flag="gray", decision=label) if c.key in keys else c
                         for c in self.conflicts))
        self._replan_soon()

    # --- one conflict -------------------------------------------------------------------------

    def action_decide(self) -> None:
        c = self.query_one("#conflicts", LazyTable).current
        if not isinstance(c, Conflict):
            return
        options = c.options
        if not options:
            self.notify("This conflict has no choice here: change the data in FACTS.",
                        severity="warning")
            return
        body = safe_text(c.message, 600, wrap=True)
        if c.decision:
            body.append("\n\nDecided: ", style="bold")
            body.append_text(safe_text(c.decision, 200))

        def chosen(index: int | None) -> None:
            if index is None:
                return
            choice = options[index]
            label = decision_label(choice.decision())
            self.run_core(self.core.decide, self.flow.site, choice,
                          then=lambda _: self._decided({c.key}, label), group="decide")

        self.app.push_screen(
            ChoiceDialog(f"Decide: {KIND_WORDS.get(c.kind, c.kind)}", body,
                         [choice_label(o) for o in options],
                         disabled=[not o.possible for o in options]),
            chosen,
        )

    # --- by kind, and undo --------------------------------------------------------------------

    def action_bulk(self) -> None:
        bulks = bulk_decisions(self.conflicts)
        if not bulks:
            self.notify("No open conflict can be decided by kind.", severity="warning")
            return

        def chosen(index: int | None) -> None:
            if index is not None:
                self._confirm_bulk(bulks[index])

        self.app.push_screen(
            ChoiceDialog("Decide by kind",
                         Text("One answer for every open conflict of a kind. You are asked to "
                              "confirm, and u takes it back."),
                         [Text(b.summary()) for b in bulks]),
            chosen,
        )

    def _confirm_bulk(self, bulk: BulkDecision) -> None:
        keys = set(bulk.keys)

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_core(self.core.decide_bulk, self.flow.site, bulk,
                              then=lambda _: self._decided(keys, bulk.summary()),
                              group="decide")

        body = Text(f"{bulk.label[:1].upper()}{bulk.label[1:]}: {bulk.count:,} {bulk.unit}.\n\n"
                    "Each is saved like a decision of its own and used by every later sync; u "
                    "takes them all back at once.")
        self.app.push_screen(
            ConfirmDialog("Decide by kind?", body, yes=f"Decide {bulk.count:,}"), answered)

    def action_undo(self) -> None:
        def undone(label: str | None) -> None:
            if label is None:
                self.notify("No decision to take back.", severity="warning")
                return
            self.notify(f"Taken back: {label}.", markup=False)
            self.replan()

        self.run_core(self.core.undo_decision, self.flow.site, then=undone, group="decide")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("next", "bulk", "decide", "undo"):
            return True if self.ready else None
        return True

    def action_next(self) -> None:
        if self.ready:
            self.next_step()
