"""Which screen shows each step of the flow registry (``tui.flow``): the one module that knows
every screen, so the screens never import each other (checked by the import contract)."""

from __future__ import annotations

from collections.abc import Callable

from tui.flow import StepId
from tui.screens.accounts import AccountsScreen
from tui.screens.base import FactsyncScreen
from tui.screens.conflicts import ConflictsScreen
from tui.screens.connect import ConnectScreen
from tui.screens.criteria import CriteriaScreen
from tui.screens.families import FamiliesScreen
from tui.screens.fetch import FetchScreen
from tui.screens.history import HistoryScreen
from tui.screens.hours import HoursScreen
from tui.screens.invites import InvitesScreen
from tui.screens.kind import KindScreen
from tui.screens.preview import PreviewScreen
from tui.screens.review import ReviewParentsScreen, ReviewStudentsScreen
from tui.screens.sync import SyncScreen
from tui.screens.writeback import WriteBackScreen
from tui.services import Services

Factory = Callable[[Services, str], FactsyncScreen[None]]


def _review(services: Services, site: str) -> FactsyncScreen[None]:
    roster = services.flow(site).roster
    if roster is not None and roster.kind == "students":
        return ReviewStudentsScreen(services, site)
    return ReviewParentsScreen(services, site)


SCREENS: dict[StepId, Factory] = {
    StepId.CONNECT: ConnectScreen,
    StepId.KIND: KindScreen,
    StepId.READ: FetchScreen,
    StepId.CRITERIA: CriteriaScreen,
    StepId.REVIEW: _review,
    StepId.CONFLICTS: ConflictsScreen,
    StepId.PREVIEW: PreviewScreen,
    StepId.SYNC: lambda services, site: SyncScreen(services, site, resync=False),
    StepId.RESYNC: lambda services, site: SyncScreen(services, site, resync=True),
    StepId.INVITES: InvitesScreen,
    StepId.ACCOUNTS: AccountsScreen,
    StepId.HOURS: HoursScreen,
    StepId.WRITEBACK: WriteBackScreen,
    StepId.HISTORY: HistoryScreen,
    StepId.FAMILIES: FamiliesScreen,
}


def read_then(services: Services, site: str, then: StepId) -> FactsyncScreen[None]:
    """The Read step, continuing to ``then`` (a step that needs the roster)."""
    return FetchScreen(services, site, then=then)
