"""What the screens are given: core's facade (``core.workspace.Workspace``) and each site's flow.

Nothing here reaches the store or FACTS itself: screens call the workspace's use cases off the
event loop (``FactsyncScreen.run_core``). This module stays light so Home opens at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from core.workspace import Workspace

if TYPE_CHECKING:
    from core.roster import Roster
    from core.sync.criteria import CriteriaCount
    from core.sync.plan import SyncPlan
    from core.sync.review import ReviewModel


@dataclass
class SiteFlow:
    """Where one site's wizard is: the roster read, its review, the plan, merges asked for."""

    site: str
    roster: Roster | None = None
    counted: CriteriaCount | None = None
    """The Criteria step's last count: its selection seeds the review when the draft is saved."""
    review: ReviewModel | None = None
    plan: SyncPlan | None = None
    confirm_archive: bool = False
    merges: list[tuple[str, str]] = field(default_factory=list)
    """(keep email, absorb email) pairs to merge right after the sync is applied."""

    def read(self, roster: Roster) -> None:
        """A new roster: everything made from the old one is gone."""
        self.roster = roster
        self.counted = None
        self.review = None
        self.forget_plan()

    def forget_plan(self) -> None:
        self.plan = None
        self.confirm_archive = False


@dataclass
class Services:
    """Built once by the app factory; the same object reaches every screen."""

    core: Workspace
    flows: dict[str, SiteFlow] = field(default_factory=dict)

    def flow(self, site: str) -> SiteFlow:
        found = self.flows.get(site)
        if found is None:
            found = self.flows[site] = SiteFlow(site)
        return found

    def now(self) -> datetime:
        return self.core.now()


def ago(when: datetime | None, now: datetime) -> str:
    """'just now', '5 min ago', '3 h ago', 'yesterday', or the date: stable for snapshots."""
    if when is None:
        return "never"
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    seconds = (now - when).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    if seconds < 2 * 86400:
        return "yesterday"
    return when.strftime("%Y-%m-%d")


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (many or word + 's')}"
