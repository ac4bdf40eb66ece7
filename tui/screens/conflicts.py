"""Conflicts: one row per conflict, the engine's choices for each, and how many are left.

Decisions are saved in the site's setup (``service.decide``) and reused by every later sync; the
plan is made again after each one, so the list always shows what is still open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.widgets import Static

from core.sites import SiteError
from core.sync import service
from core.sync.conflicts import Conflict, ConflictPerson
from core.sync.plan import SyncPlan
from tui import navigation
from tui.screens.base import WizardScreen
from tui.screens.dialogs import ChoiceScreen
from tui.services import Services, error_text, plural
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
EMAIL_KEYED = ("shared-email-family", "shared-email-cross-family")


@dataclass(frozen=True)
class Choice:
    """One answer to a conflict: the words to show and the ``service.decide`` arguments."""

    label: Text
    args: dict[str, Any]
    possible: bool = True


def _who(p: ConflictPerson) -> Text:
    t = safe_text(p.name, 40, style="bold")
    t.append(f" (person {p.person_id}" + (", listed first" if p.listed_first else "") + ")",
             style="dim")
    return t


def choices_for(c: Conflict) -> list[Choice]:
    """The choices the engine offers for ``c``, in the admin's words."""
    out: list[Choice] = []
    by_email = c.kind in EMAIL_KEYED and c.email is not None
    for choice in c.choices:
        if choice == "assign" and c.email is not None:
            for p in c.people:
                label = Text("Give ", end="")
                label.append_text(safe_text(c.email, 40))
                label.append(" to ")
                label.append_text(_who(p))
                label.append(" (the others are skipped)", style="dim")
                out.append(Choice(label, {"email": c.email, "person_id": p.person_id}))
        elif choice == "skip":
            if by_email:
                out.append(Choice(Text("Skip everyone with this email"),
                                  {"email": c.email, "skip": True}))
            else:
                for p in c.people:
                    label = Text("Skip ", end="")
                    label.append_text(_who(p))
                    out.append(Choice(label, {"person_id": p.person_id, "skip": True}))
        elif choice == "use-email2":
            if by_email:
                have = all(p.email2 for p in c.people)
                label = Text("Use each person's second email (email2)", end="")
                if not have:
                    label.append(" — not everyone has one", style="dim")
                out.append(Choice(label, {"email": c.email, "use_email2": True}, have))
            else:
                for p in c.people:
                    label = Text("Use the second email of ", end="")
                    label.append_text(_who(p))
                    label.append(": ")
                    label.append_text(safe_text(p.email2 or "none", 40))
                    out.append(Choice(label, {"person_id": p.person_id, "use_email2": True},
                                      bool(p.email2)))
        elif choice == "accept":
            for p in c.people:
                for fid in p.family_ids:
                    label = Text("Accept ", end="")
                    label.append_text(_who(p))
                    label.append(f" in family {fid}")
                    out.append(Choice(label, {"person_id": p.person_id, "family_id": fid}))
    return out


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


def left_text(plan: SyncPlan) -> Text:
    open_ = plan.open_conflicts
    red = sum(1 for c in open_ if c.flag == "red")
    t = Text(end="", no_wrap=True, overflow="ellipsis")
    if not open_:
        t.append("Nothing left to decide. ", style="bold green")
    else:
        t.append(f"{len(open_):,} left to decide", style="bold")
        t.append(f" ({red} red, {len(open_) - red} orange) · ")
    t.append(f"{plural(len(plan.of('conflict')), 'person', 'people')} wait, the rest syncs",
             style="dim")
    return t


class ConflictsScreen(WizardScreen[None]):
    TITLE_TEXT = "Conflicts"
    STEP = "Conflicts"
    HELP = """\
# Conflicts

Nothing is resolved silently: one email belongs to one account. Each row is a conflict:

- **red**: a family's main contact, or a clash across families: decide first.
- **orange**: a secondary member: can wait.
- **done**: decided (your decision is saved and used by every later sync).

**Enter** opens the choices (give the email to one person, use the second email, skip...).
People in a conflict wait; everyone else syncs. **n** goes on to the preview.
"""
    EXPLAIN = (
        "These people cannot get an account yet: two share one email, an email is missing or "
        "already used. Press Enter on a row to decide; decisions are remembered for next time. "
        "Everyone else syncs anyway."
    )

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back", tooltip="Back to the review"),
        Binding("n", "next", "Next: preview", id="next", tooltip="Go on to the preview"),
    ]

    ready: reactive[bool] = reactive(False, bindings=True)

    def __init__(self, services: Services, site: str) -> None:
        super().__init__(services, site)
        self.plan: SyncPlan | None = None

    def body(self) -> ComposeResult:
        yield Static(Text("Planning…", style="dim"), id="conflicts-left", classes="totals")
        yield LazyTable(CONFLICT_COLUMNS, conflict_cells, id="conflicts",
                        empty="No conflicts: every matching person has an email of their own.")
        yield Static(id="conflict-detail", classes="detail")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#conflicts", LazyTable).focus()
        if self.flow.plan is not None:
            self._show(self.flow.plan)
        else:
            self.replan()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def replan(self) -> None:
        self.plan_then(self._show)

    def _show(self, plan: SyncPlan) -> None:
        self.plan = plan
        self.query_one("#conflicts", LazyTable).set_rows(list(plan.conflicts))
        self.query_one("#conflicts-left", Static).update(left_text(plan))
        self.ready = True
        self._detail()

    @on(LazyTable.Highlighted, "#conflicts")
    def _detail(self) -> None:
        table = self.query_one("#conflicts", LazyTable)
        c = table.current
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

    @on(LazyTable.Selected, "#conflicts")
    def _selected(self, event: LazyTable.Selected) -> None:
        c = self.query_one("#conflicts", LazyTable).current
        if isinstance(c, Conflict):
            self.decide(c)

    def decide(self, c: Conflict) -> None:
        options = choices_for(c)
        if not options:
            self.notify("This conflict has no choice here: change the data in FACTS.",
                        severity="warning")
            return
        body = safe_text(c.message, 600, wrap=True)
        if c.decision:
            body.append("\n\nDecided: ", style="bold")
            body.append_text(safe_text(c.decision, 200))

        def chosen(index: int | None) -> None:
            if index is not None:
                self._save(options[index].args)

        self.app.push_screen(
            ChoiceScreen(
                f"Decide: {KIND_WORDS.get(c.kind, c.kind)}",
                body,
                [o.label for o in options],
                disabled=[not o.possible for o in options],
            ),
            chosen,
        )

    @work(thread=True, exclusive=True, group="decide", exit_on_error=False)
    def _save(self, args: dict[str, Any]) -> None:
        try:
            service.decide(self.services.store, self.flow.site, **args)
        except SiteError as err:
            self.app.call_from_thread(self.notify, error_text(err), severity="error",
                                      markup=False)
            return
        self.flow.forget_plan()
        self.app.call_from_thread(self.notify, "Decision saved.")
        self.app.call_from_thread(self.replan)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next":
            return True if self.ready else None
        return True

    def action_next(self) -> None:
        if not self.ready:
            return
        screen = navigation.screen_for(self.services, self.flow.site, "preview")
        if screen is not None:
            self.app.push_screen(screen)
