"""Preview: the plan's counts (each drillable to its rows), likely duplicates, archive safety."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.widgets import Static

from core.facts.records import Unreadable
from core.sync.holds import HeldRow, HoldView
from core.sync.plan import Action, Duplicate, PlanItem, SyncPlan
from core.workspace import ArchiveQuestion, archive_question
from tui.dialogs import ChoiceDialog, ConfirmDialog
from tui.flow import StepId
from tui.screens.base import FactsyncScreen
from tui.screens.drill import DrillScreen
from tui.services import Services, plural
from tui.widgets.lazy_table import Column, LazyTable
from tui.widgets.safe_text import safe_text


@dataclass(frozen=True)
class CountRow:
    action: Action | Literal["unreadable"]
    label: str
    count: int
    meaning: str


COUNT_ROWS: tuple[tuple[Action, str, str], ...] = (
    ("add", "New accounts", "people in FACTS without an account yet"),
    ("link", "Merged by email", "existing accounts (kept with their hours) linked to FACTS"),
    ("update", "Updated", "linked accounts whose name, email or family changed in FACTS"),
    ("archive", "Archived", "linked accounts that no longer match (hours kept)"),
    ("restore", "Restored", "archived accounts that match again"),
    ("skip", "Skipped", "left out by a decision"),
    ("unchanged", "Unchanged", "nothing to write"),
    ("conflict", "Waiting", "in a conflict: they wait for a decision"),
)


UNREADABLE_MEANING = "FACTS records left out; the accounts they concern stay as they are"


def count_rows(plan: SyncPlan) -> list[CountRow]:
    rows = [CountRow(a, label, len(plan.of(a)), meaning) for a, label, meaning in COUNT_ROWS]
    if plan.unreadable:
        rows.append(CountRow("unreadable", "Unreadable", len(plan.unreadable), UNREADABLE_MEANING))
    return rows


UNREADABLE_COLUMNS = (Column("Record", ratio=2), Column("Field", ratio=2),
                      Column("Problem", ratio=5))


def unreadable_cells(u: Unreadable) -> list[str | Text]:
    return [safe_text(f"{u.resource} {u.key}"), safe_text(u.field or ""),
            safe_text(u.problem, style="dim")]


HELD_COLUMNS = (Column("Name", ratio=3), Column("Email", ratio=3), Column("Why", ratio=4))


def held_cells(r: HeldRow) -> list[str | Text]:
    return [safe_text(r.name), safe_text(r.email or "no email"), safe_text(r.reason, style="dim")]


def held_title(hold: HoldView) -> Text:
    t = Text(f"Held for a person: hold {hold.id}, {plural(len(hold.rows), 'archive')} — ",
             style="bold yellow", end="")
    t.append_text(safe_text(hold.reason, 120, style="yellow"))
    t.append("  (a approves)", style="dim")
    return t


def _count_cells(r: CountRow) -> list[str | Text]:
    style = "bold" if r.count and r.action in ("add", "link", "update", "archive",
                                               "restore") else "dim"
    if r.action in ("archive", "conflict", "unreadable") and r.count:
        style = "bold red"
    return [Text(r.label, style="bold"), Text(f"{r.count:,}", style=style), Text(r.meaning,
                                                                                 style="dim")]


COUNT_COLUMNS = (Column("What", width=16), Column("How many", width=8, justify="right"),
                 Column("Meaning", ratio=1))

ITEM_COLUMNS = (Column("Name", ratio=3), Column("Email", ratio=3), Column("Family", width=8),
                Column("Why", ratio=4))


def item_cells(it: PlanItem) -> list[str | Text]:
    reason = it.reason
    if it.changes and it.action in ("update", "link", "restore"):
        reason = reason or "; ".join(f"{c.field}: {c.before} → {c.after}" for c in it.changes)
    return [safe_text(it.name), safe_text(it.email or "no email"), safe_text(it.family_key or ""),
            safe_text(reason, style="dim")]


def _side(name: str, email: str | None, new: bool) -> Text:
    t = safe_text(name, 24)
    t.append(" <")
    t.append_text(safe_text(email or "no email", 30))
    t.append(">")
    if new:
        t.append(" new", style="green")
    return t


@dataclass
class DuplicateRow:
    dup: Duplicate
    merge_keep: str | None = None
    """The email kept when the admin asked to merge after the sync."""


def duplicate_cells(r: DuplicateRow) -> list[str | Text]:
    d = r.dup
    state = Text("merge after sync", style="bold cyan") if r.merge_keep else Text("—", style="dim")
    return [_side(d.a.name, d.a.email, d.a.new), _side(d.b.name, d.b.email, d.b.new),
            safe_text(d.reason, style="dim"), state]


DUP_COLUMNS = (Column("Account", ratio=4), Column("Likely the same as", ratio=4),
               Column("Why", ratio=3), Column("Merge", width=16))


def archive_note(plan: SyncPlan) -> Text:
    a = plan.archive
    t = Text(end="")
    if a.verdict == "needs-confirmation":
        t.append("⚠ ", style="bold red")
        t.append(f"This sync would archive {a.archive_count} of {a.synced_count} synced accounts "
                 f"({a.share:.0%}). You will be asked to confirm.", style="bold")
    elif a.verdict == "refused":
        t.append("⚠ No account will be archived: ", style="bold yellow")
        t.append_text(safe_text("; ".join(r.removeprefix("no account archived: ")
                                          for r in a.reasons), 300, wrap=True))
    elif a.archive_count:
        t.append(f"{plural(a.archive_count, 'account')} will be archived (hours kept).",
                 style="dim")
    return t


def archive_body(q: ArchiveQuestion, more_hint: str = "") -> Text:
    """The mass-archive question: how many, of how many, and who (Preview and Begin Sync)."""
    body = Text(q.headline + "\n\n", end="")
    for name, reason in q.names:
        body.append("• ")
        body.append_text(safe_text(name, 30))
        body.append(" — ")
        body.append_text(safe_text(reason, 90, style="dim", wrap=True))
        body.append("\n")
    if q.more:
        body.append(f"…and {q.more} more{more_hint}\n", style="dim")
    return body


class PreviewScreen(FactsyncScreen[None]):
    TITLE_TEXT = "Preview"
    STEP = StepId.PREVIEW
    HELP = """\
# Preview

What the sync will do, before anything is written. **Enter** on a line lists the people behind
the number, each with the reason.

**Likely duplicates**: two accounts that look like one person (same family and name, or a
hand-made account with a close name). **m** asks to merge them right after the sync: the hours
move to the account you keep, the other is archived; History can undo it.

If the sync would archive more than a safe share of the accounts it manages, you are asked to
confirm and shown who. **s** runs the sync.

**Held for a person**: archives an earlier sync (often the nightly one) did not make on its own,
with the reason. **a** approves them, after a confirmation: they are planned again against the
roster just read, and refused if it no longer supports them.

**Unreadable**: FACTS records factsync could not read; the accounts they concern stay as they
are. **r** exports every left-out record with its reason to a CSV file (the error report).
"""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back", tooltip="Back to the conflicts"),
        Binding("s", "next", "Sync", id="next", tooltip="Apply this plan"),
        Binding("m", "merge", "Merge", id="preview.merge",
                tooltip="Merge the highlighted likely duplicate after the sync"),
        Binding("a", "approve_hold", "Approve hold", id="preview.approve",
                tooltip="Archive the accounts an earlier sync held for a person"),
        Binding("r", "error_report", "Error report", id="preview.report",
                tooltip="Every left-out record with its reason, to a CSV file"),
        Binding("tab", "app.focus_next", "Switch list", id="preview.tab", show=False),
    ]

    ready: reactive[bool] = reactive(False, bindings=True)

    def __init__(self, services: Services, site: str) -> None:
        super().__init__(services, site)
        self.plan: SyncPlan | None = None
        self.duplicates: list[DuplicateRow] = []
        self.hold: HoldView | None = None

    def body(self) -> ComposeResult:
        yield LazyTable(COUNT_COLUMNS, _count_cells, id="counts")
        yield Static(id="archive-note", classes="note")
        yield Static(id="held-title", classes="section-title")
        yield LazyTable(HELD_COLUMNS, held_cells, id="held", select_on_enter=False)
        yield Static(Text("Likely duplicates", style="bold"), classes="section-title")
        yield LazyTable(DUP_COLUMNS, duplicate_cells, id="duplicates",
                        empty="No likely duplicates.")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#counts", LazyTable).focus()
        self._show_hold(None)
        self.with_plan(self._show)
        self.load_holds()

    def load_holds(self) -> None:
        self.run_core(self.core.holds, self.flow.site,
                      then=lambda holds: self._show_hold(holds[0] if holds else None),
                      group="holds")

    def _show_hold(self, hold: HoldView | None) -> None:
        self.hold = hold
        title = self.query_one("#held-title", Static)
        table = self.query_one("#held", LazyTable)
        title.display = table.display = hold is not None
        if hold is not None:
            title.update(held_title(hold))
            table.set_rows(list(hold.rows))
        self.refresh_bindings()

    def _show(self, plan: SyncPlan) -> None:
        self.plan = plan
        rows = count_rows(plan)
        counts = self.query_one("#counts", LazyTable)
        counts.styles.height = max(10, len(rows) + 2)
        counts.set_rows(rows)
        self.query_one("#archive-note", Static).update(archive_note(plan))
        keep = {(m[1]) : m[0] for m in self.flow.merges}
        self.duplicates = [
            DuplicateRow(d, keep.get(d.b.email or "") or keep.get(d.a.email or ""))
            for d in plan.duplicates
        ]
        self.query_one("#duplicates", LazyTable).set_rows(self.duplicates)
        self.ready = True

    @on(LazyTable.Selected, "#counts")
    def _drill(self, event: LazyTable.Selected) -> None:
        if self.plan is None:
            return
        row = count_rows(self.plan)[event.index]
        if row.action == "unreadable":
            self.app.push_screen(
                DrillScreen(self.services, self.flow.site, f"Unreadable ({row.count:,})",
                            UNREADABLE_COLUMNS, unreadable_cells, list(self.plan.unreadable),
                            note=Text(UNREADABLE_MEANING[:1].upper() + UNREADABLE_MEANING[1:]
                                      + ". r on the Preview exports them.", style="dim")))
            return
        items = list(self.plan.of(row.action))
        if row.action == "archive" and self.plan.withheld:
            items = list(self.plan.withheld)
        self.app.push_screen(
            DrillScreen(self.services, self.flow.site, f"{row.label} ({len(items):,})",
                        ITEM_COLUMNS, item_cells, items,
                        note=Text(row.meaning[:1].upper() + row.meaning[1:] + ".", style="dim"))
        )

    def action_merge(self) -> None:
        table = self.query_one("#duplicates", LazyTable)
        row = table.current
        if not isinstance(row, DuplicateRow):
            self.notify("No likely duplicate to merge.", severity="warning")
            return
        d = row.dup
        if row.merge_keep:
            self.flow.merges = [m for m in self.flow.merges
                                if m[1] not in (d.a.email, d.b.email)]
            row.merge_keep = None
            table.refresh()
            return
        if not d.a.email or not d.b.email:
            self.notify("Both accounts need an email to be merged.", severity="warning")
            return
        body = Text("After the sync, the two accounts become one. The hours of both stay, on "
                    "the account you keep; the other is archived. History can undo it.")
        choices = []
        for keep, other in ((d.a, d.b), (d.b, d.a)):
            label = Text("Keep ", end="")
            label.append_text(_side(keep.name, keep.email, keep.new))
            label.append(", absorb ")
            label.append_text(safe_text(other.email or "", 30))
            choices.append(label)

        def chosen(index: int | None) -> None:
            if index is None:
                return
            keep, other = (d.a, d.b) if index == 0 else (d.b, d.a)
            assert keep.email and other.email
            self.flow.merges.append((keep.email, other.email))
            row.merge_keep = keep.email
            table.refresh()

        self.app.push_screen(ChoiceDialog("Merge after the sync", body, choices), chosen)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("next", "merge", "error_report"):
            return True if self.ready else None
        if action == "approve_hold":
            return True if self.ready and self.hold is not None else None
        return True

    def action_error_report(self) -> None:
        if self.plan is not None:
            export_error_report(self, self.plan)

    def action_approve_hold(self) -> None:
        hold = self.hold
        if hold is None:
            return
        body = Text(f"An earlier sync held {plural(len(hold.rows), 'archive')} for a person: ",
                    end="")
        body.append_text(safe_text(hold.reason, 300, wrap=True))
        body.append("\n\nThey are planned again against the roster just read, and refused if "
                    "it no longer supports them. Archived accounts keep their hours; History can "
                    "undo it.\n\n")
        for r in hold.rows[:10]:
            body.append("• ")
            body.append_text(safe_text(r.name, 30))
            body.append(" — ")
            body.append_text(safe_text(r.reason, 80, style="dim"))
            body.append("\n")
        if len(hold.rows) > 10:
            body.append(f"…and {len(hold.rows) - 10} more\n", style="dim")

        def approved(run: int) -> None:
            self.notify(f"Hold {hold.id} approved: {plural(len(hold.rows), 'account')} archived "
                        f"(run {run}).")
            self.flow.forget_plan()
            self.load_holds()
            self.with_plan(self._show)

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_core(self.core.approve_hold, self.flow.site, hold.id, self.flow.roster,
                              then=approved, group="approve")

        self.app.push_screen(ConfirmDialog("Approve the held archives?", body,
                                           yes=f"Archive {len(hold.rows)}"), answered)

    def action_next(self) -> None:
        plan = self.plan
        if plan is None:
            return
        question = archive_question(plan)
        if question is None:
            self.flow.confirm_archive = False
            self.next_step()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.flow.confirm_archive = True
                self.next_step()

        self.app.push_screen(
            ConfirmDialog(question.title,
                          archive_body(question, " (Enter on Archived lists them all)"),
                          yes=question.yes),
            answered,
        )


def export_error_report(screen: FactsyncScreen[None], plan: SyncPlan) -> None:
    """*Export error report*: the plan's left-out records to a CSV file (Preview and Sync)."""

    def written(done: tuple[Path, int]) -> None:
        path, rows = done
        screen.notify(f"Error report: {plural(rows, 'row')} written to {path}", markup=False)

    assert screen.site is not None
    screen.run_core(screen.core.write_error_report, screen.site, plan, then=written,
                    group="report")
