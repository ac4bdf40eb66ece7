"""The flow as data: every step, its title, what it needs, the step after it, its walkthrough.

The breadcrumb, the command palette, Back/Next and the walkthrough all read :data:`STEPS`;
``tui.registry`` adds the screen that shows each step. Screens say ``self.next_step()`` or
``self.open_step(StepId.CONFLICTS)``: nothing navigates by a string of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol


class StepId(Enum):
    HOME = "home"
    NEW_SITE = "new_site"
    RESYNC = "resync"
    CONNECT = "connect"
    KIND = "kind"
    READ = "read"
    CRITERIA = "criteria"
    REVIEW = "review"
    CONFLICTS = "conflicts"
    PREVIEW = "preview"
    SYNC = "sync"
    INVITES = "invites"
    ACCOUNTS = "accounts"
    HOURS = "hours"
    WRITEBACK = "writeback"
    HISTORY = "history"
    FAMILIES = "families"
    DETAILS = "details"


class Needs(Enum):
    NOTHING = "nothing"
    SITE = "site"
    """A site picked on Home."""
    ROSTER = "roster"
    """The roster read from FACTS this session (the Read step runs first)."""
    PLAN = "plan"
    """A plan the Preview showed (Sync applies exactly that)."""


@dataclass(frozen=True)
class Step:
    id: StepId
    title: str
    """The breadcrumb's and palette's name."""
    summary: str
    """One line for the command palette."""
    explain: str
    """The walkthrough panel's plain words."""
    needs: Needs = Needs.SITE
    next: StepId | None = None
    in_flow: bool = False
    """Shown in the breadcrumb as "Step n/8"."""
    palette: bool = True
    palette_opens: StepId | None = None
    """The palette opens this step instead (Sync applies the plan the Preview showed)."""


STEPS: tuple[Step, ...] = (
    Step(StepId.HOME, "Home: sites", "Pick or create a site",
         "Home lists the volunteer-hours sites. Each site rosters students or parents from FACTS. "
         "Pick one and press Enter to set it up step by step, or s to sync it again with its "
         "saved setup.", needs=Needs.NOTHING, next=StepId.CONNECT),
    Step(StepId.NEW_SITE, "New site", "Create a volunteer-hours site",
         "A new site: its name, its plan, and whether it rosters students or parents.",
         needs=Needs.NOTHING),
    Step(StepId.RESYNC, "Begin Sync → Sync", "Re-run the saved setup for the current site",
         "Begin Sync reads FACTS again and applies the saved choices in one go: only new "
         "conflicts wait. Then it lists the new accounts to invite."),
    Step(StepId.CONNECT, "Connect", "Keys and the permission check",
         "Connect: paste the school's FACTS API key. factsync checks what the key may do: read "
         "the roster, and write hours back. Nothing is changed in FACTS.",
         next=StepId.KIND, in_flow=True),
    Step(StepId.KIND, "Kind", "Students or parents",
         "Choose who becomes an account on this site: the students, or their parents. One site "
         "holds one kind; press n to create a second site for the other kind.",
         next=StepId.READ, in_flow=True),
    Step(StepId.READ, "Read", "Fetch the roster with progress",
         "factsync is reading the school's students (and for a parents site their parents and "
         "families) from FACTS. Nothing changes anywhere. Escape cancels.",
         next=StepId.CRITERIA, in_flow=True),
    Step(StepId.CRITERIA, "Criteria", "Schools, statuses, grade levels, relationships",
         "Choose which students count: schools, enrollment status, grade levels, as this school "
         "names them in FACTS. For parents, also which relationships count. The count at the "
         "bottom updates as you tick.", needs=Needs.ROSTER, next=StepId.REVIEW, in_flow=True),
    Step(StepId.REVIEW, "Review", "The students list or the parent subset grid",
         "Each row is a family, each column one of its parents. Press a, m, f or c to choose "
         "which parents count for every family; Space includes or excludes one parent. For a "
         "students site: the list of students and what happens to each.",
         needs=Needs.ROSTER, next=StepId.CONFLICTS, in_flow=True),
    Step(StepId.CONFLICTS, "Conflicts", "Shared, missing and taken emails",
         "These people cannot get an account yet: two share one email, an email is missing or "
         "already used. Enter decides one; b decides every conflict of a kind at once; u takes "
         "the last decision back. Everyone else syncs anyway.",
         needs=Needs.ROSTER, next=StepId.PREVIEW, in_flow=True),
    Step(StepId.PREVIEW, "Preview", "What the sync will do, and likely duplicates",
         "Nothing is written yet. These are the accounts the sync will create, merge, update or "
         "archive. Enter shows who is behind a number. Press s to sync.",
         needs=Needs.ROSTER, next=StepId.SYNC, in_flow=True),
    Step(StepId.SYNC, "Sync", "Apply the plan (opens the preview; s syncs)",
         "The sync writes the plan in one go (all or nothing). Then it lists the new accounts to "
         "invite: e exports them to a spreadsheet file, i marks them invited. Enter goes Home.",
         needs=Needs.PLAN, next=StepId.HOME, in_flow=True, palette_opens=StepId.PREVIEW),
    Step(StepId.ACCOUNTS, "Accounts", "Search accounts, merge two",
         "Every account of the site. Type to search; in the list, k and a mark the accounts to "
         "keep and to absorb, m merges them (History can undo it)."),
    Step(StepId.HOURS, "Hours", "Approve or reject pending hours",
         "Volunteer hours of the site. Approving an entry of a linked account queues it to be "
         "written to FACTS, exactly once."),
    Step(StepId.WRITEBACK, "Write-back", "Hours owed to FACTS: outbox, failures, retry",
         "Approved hours owed to FACTS, whether the key may write them, failures and retry."),
    Step(StepId.HISTORY, "History", "Runs, their changes, undo the latest",
         "Every sync and merge of the site with its changes; u undoes the latest."),
    Step(StepId.FAMILIES, "Families", "Group FACTS family ids",
         "Family groups make several FACTS family ids one household."),
    Step(StepId.INVITES, "Export invites CSV", "New accounts not invited yet",
         "These accounts were made by a sync and never invited. Export them to a CSV file for "
         "the invitation email, then mark them invited."),
    Step(StepId.DETAILS, "Details", "The rows behind a number",
         "These are the people behind the number you opened, each with the reason.",
         palette=False),
)

BY_ID: dict[StepId, Step] = {s.id: s for s in STEPS}
FLOW: tuple[Step, ...] = tuple(s for s in STEPS if s.in_flow)
"""The wizard's steps in order, as the breadcrumb shows them."""


def step(step_id: StepId) -> Step:
    return BY_ID[step_id]


def previous(step_id: StepId) -> Step | None:
    """The step before ``step_id`` in the flow (what Back returns to)."""
    for s in STEPS:
        if s.next is step_id:
            return s
    return None


class Navigator(Protocol):
    """What the app does for a screen: open a step for a site (with what it needs first)."""

    def open_step(self, step_id: StepId, site: str | None, *, replace: bool = False) -> None: ...

    def go_home(self) -> None: ...
