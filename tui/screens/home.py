"""Home: pick or create a site; per site its connection, last sync, write-back; Begin Sync → Sync."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from core.workspace import SiteCard
from tui.dialogs import NewSite, NewSiteDialog
from tui.flow import StepId
from tui.screens.base import FactsyncScreen
from tui.services import Services, ago, plural
from tui.widgets.safe_text import safe_text


def _yes_no(value: bool | None) -> tuple[str, str]:
    if value is None:
        return ("not checked", "dim")
    return ("yes", "green") if value else ("no", "red")


def card_text(card: SiteCard, now: datetime) -> Text:
    """The detail panel of one site: short lines (it is ~50 columns wide at 80x24)."""
    st = card.status
    t = Text(end="")
    t.append_text(safe_text(card.name, 60, style="bold"))
    kind = card.kind or (card.setup.kind if card.setup else None)
    t.append(f"\n{card.plan} plan · " + (f"{kind} site" if kind else "kind not chosen yet"),
             style="dim")
    if card.plan != "advanced":
        t.append("\nThe FACTS integration needs the Advanced plan.", style="yellow")

    def head(label: str) -> None:
        t.append(f"\n\n{label}", style="bold")

    def line(text: str | Text, style: str = "") -> None:
        t.append("\n  ")
        if isinstance(text, Text):
            t.append_text(text)
        else:
            t.append(text, style=style)

    un = card.unattended
    if un is not None and un.pause is not None:
        t.append("\n\n⏸ ", style="bold yellow")
        t.append_text(safe_text(un.pause.words()[:1].upper() + un.pause.words()[1:], 160,
                                style="bold yellow", wrap=True))
        t.append("\n  sync and archive wait; write-back goes on", style="yellow")
    if un is not None and un.open_holds:
        t.append("\n\n⚠ ", style="bold yellow")
        t.append(f"{plural(un.held_rows, 'archive')} held for a person", style="bold yellow")
        t.append("\n  ")
        t.append_text(safe_text(un.hold_reason or "", 160, style="yellow", wrap=True))
        t.append("\n  s shows them in the Preview, where a approves them", style="dim")
    head("Connection")
    if not st.connected:
        line("not connected: press c (or Enter) to connect", "yellow")
    else:
        url = safe_text(st.base_url, 44)
        if card.is_sandbox:
            url.append(" (sandbox)", style="cyan")
        line(url)
        perms = Text(end="")
        for i, (label, value) in enumerate((("People read", st.people_read),
                                            ("People write", st.people_write))):
            word, style = _yes_no(value)
            perms.append(" · " if i else "")
            perms.append(f"{label} ")
            perms.append(word, style=style)
        line(perms)
        line(f"checked {ago(st.checked_at, now)}", "dim")
    head("Last sync")
    run = card.last_run
    if run is None:
        line("never", "dim")
    else:
        c = run.counts
        changed = ", ".join(
            f"{c.get(k, 0)} {label}"
            for k, label in (("added", "new"), ("linked", "merged"), ("updated", "updated"),
                             ("archived", "archived"), ("restored", "restored"))
            if c.get(k)
        ) or "no changes"
        when = ago(run.finished_at or run.started_at, now)
        line(f"{when}: {changed}" + (" (undone)" if run.undone_at else ""))
        if c.get("conflicts"):
            line(f"{c['conflicts']} conflicts waited for a decision", "yellow")
    head("Accounts")
    line(f"{st.accounts_active:,} active ({st.accounts_linked:,} linked to FACTS) · "
         f"{card.archived:,} archived")
    head("Write-back")
    ob = st.outbox
    counts = Text(f"{ob.get('pending', 0)} queued · {ob.get('sent', 0)} sent · ", end="")
    counts.append(f"{ob.get('failed', 0)} failed", style="red" if ob.get("failed") else "")
    line(counts)
    if st.waiting_for_link:
        line(f"{plural(st.waiting_for_link, 'approved entry', 'approved entries')} wait"
             f"{'s' if st.waiting_for_link == 1 else ''} for a FACTS link", "dim")
    if not st.writeback_enabled and st.connected:
        line(safe_text(f"off: {st.writeback_reason}", 200, style="yellow", wrap=True))
    if st.last_error is not None:
        line(safe_text(f"last error: {st.last_error.email or ''}: {st.last_error.error}", 160,
                       style="red", wrap=True))
    head("Setup")
    if card.setup is None:
        line("none yet: press Enter to set up step by step", "dim")
    else:
        setup = card.setup
        line(safe_text(f"{setup.kind} · {', '.join(setup.statuses) or 'any status'}", 60))
        line(safe_text(f"grades {', '.join(setup.grades) or 'all'} · schools "
                       f"{', '.join(setup.schools) or 'all'}", 60))
        if setup.kind == "parents":
            line(f"parents preset: {setup.preset}")
    t.append("\n\n")
    t.append(" Enter ", style="reverse")
    t.append(" set up step by step")
    t.append("\n")
    t.append(" s ", style="reverse")
    t.append(" Begin Sync → Sync" + ("" if card.ready_to_sync else " (after a first setup)"))
    t.append("\n\nBeside the flow: a Accounts · h Hours · w Write-back · y History · "
             "f Families", style="dim")
    return t


class HomeScreen(FactsyncScreen[None]):
    TITLE_TEXT = "Sites"
    STEP = StepId.HOME
    HELP = """\
# Home

Each **site** is one volunteer-hours site. A site rosters *students* or *parents* from FACTS,
never both: a school that wants both creates a second site.

**Enter** walks through the setup step by step. **s** (*Begin Sync → Sync*) reads FACTS
again and applies the saved choices; anything new (conflicts, archives held) opens the
Preview first. Held and paused sites say so here.
"""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Set up", id="home.open", tooltip="Walk through the setup",
                priority=True),
        Binding("s", "resync", "Begin Sync", id="home.sync",
                tooltip="Begin Sync → Sync: fetch, plan and apply with the saved setup"),
        Binding("n", "new_site", "New site", id="home.new", tooltip="Create a site"),
        *(Binding(key, f"step('{st.value}')", label, id=f"home.{st.value}", show=False)
          for key, st, label in (("c", StepId.CONNECT, "Connect"), ("a", StepId.ACCOUNTS, "Accounts"),
                                 ("h", StepId.HOURS, "Hours"), ("w", StepId.WRITEBACK, "Write-back"),
                                 ("y", StepId.HISTORY, "History"), ("f", StepId.FAMILIES, "Families"))),
        Binding("r", "reload", "Reload", id="home.reload", show=False),
        Binding("q", "app.quit", "Quit", id="home.quit", tooltip="Leave factsync"),
    ]

    def __init__(self, services: Services) -> None:
        super().__init__(services, None)
        self.cards: list[SiteCard] = []

    def body(self) -> ComposeResult:
        with Horizontal(id="home"):
            with Vertical(id="site-list"):
                yield Static(Text("Sites", style="bold"), classes="section-title")
                yield OptionList(markup=False, id="sites")
                yield Static(Text("n  new site", style="dim"), id="sites-hint")
            with VerticalScroll(id="site-detail"):
                yield Static(Text("Loading…", style="dim"), id="detail")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#sites", OptionList).focus()
        self.reload()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self.reload()

    def action_reload(self) -> None:
        self.reload()

    def reload(self, select: str | None = None) -> None:
        self.run_core(self.core.site_cards, then=lambda cards: self._show(cards, select),
                      group="home-load")

    def _show(self, cards: list[SiteCard], select: str | None) -> None:
        self.cards = cards
        options = self.query_one("#sites", OptionList)
        keep = select or self.app_site
        options.clear_options()
        for card in cards:
            mark = "●" if card.ready_to_sync else "○"
            prompt = Text(f"{mark} ", style="green" if card.ready_to_sync else "dim")
            prompt.append_text(safe_text(card.name, 20))
            options.add_option(Option(prompt, id=f"site-{len(options.options)}"))
        if not cards:
            self.query_one("#detail", Static).update(
                Text.assemble(
                    ("No sites yet.\n\n", "bold"),
                    "Press ", (" n ", "reverse"), " to create the first site: a name, its plan, "
                    "and whether it rosters students or parents.",
                )
            )
            self.app_site = None
            return
        names = [c.name for c in cards]
        index = names.index(keep) if keep in names else 0
        options.highlighted = index
        self._detail(index)

    def _detail(self, index: int | None) -> None:
        if index is None or not (0 <= index < len(self.cards)):
            return
        card = self.cards[index]
        self.app_site = card.name
        self.site = card.name
        self.query_one("#detail", Static).update(card_text(card, self.services.now()))
        self.refresh_bindings()

    @on(OptionList.OptionHighlighted, "#sites")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._detail(event.option_index)

    @on(OptionList.OptionSelected, "#sites")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self._detail(event.option_index)
        self.action_open()

    @property
    def card(self) -> SiteCard | None:
        index = self.query_one("#sites", OptionList).highlighted
        if index is None or not (0 <= index < len(self.cards)):
            return None
        return self.cards[index]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("open", "step"):
            return True if self.card is not None else None
        if action == "resync":
            card = self.card
            return True if card is not None and card.ready_to_sync else None
        return action != "back"

    @property
    def app_site(self) -> str | None:
        """The site picked here: the command palette's actions apply to it."""
        return getattr(self.app, "site", None)

    @app_site.setter
    def app_site(self, name: str | None) -> None:
        self.app.site = name  # type: ignore[attr-defined]

    def action_open(self) -> None:
        if self.card is not None:
            self.open_step(StepId.CONNECT)

    def action_resync(self) -> None:
        card = self.card
        if card is None:
            return
        if not card.ready_to_sync:
            self.notify("This site has no saved setup yet: press Enter to set it up first.",
                        severity="warning")
            return
        if card.paused is not None:
            self.notify(f"{card.name} is {card.paused.words()}: sync waits until it is resumed "
                        "(factsync resume).", severity="warning", markup=False)
            return
        self.open_step(StepId.RESYNC)

    def action_step(self, step: str) -> None:
        if self.card is None:
            self.notify("Create a site first (n).", severity="warning")
            return
        self.open_step(StepId(step))

    def action_new_site(self, error: str = "", initial: NewSite | None = None) -> None:
        def created(name: str) -> None:
            self.notify(f"Site {name!r} created.", markup=False)
            self.app_site = name
            self.reload(name)

        def answered(result: NewSite | None) -> None:
            if result is not None:
                self.run_core(self.core.add_site, result.name, result.plan, result.kind,
                              then=created,
                              failed=lambda message: self.action_new_site(message, result))

        self.app.push_screen(
            NewSiteDialog(name=initial.name if initial else "",
                          kind=initial.kind if initial else None, error=error),
            answered,
        )
