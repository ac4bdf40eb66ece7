"""The factsync Textual app: services in through the constructor, one screen per step.

``make_app(store_path)`` is the factory the CLI uses; tests build ``FactsyncApp(Services(store,
transport=sandbox.transport()))`` directly. The app holds no data of its own beyond the site the
admin is working on and the walkthrough switch.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import ClassVar

from textual import events
from textual.app import App
from textual.binding import Binding, BindingType
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Input, TextArea

from store import open_store
from tui.services import Services
from tui.widgets.chrome import KeyStrip, WalkthroughPanel

KEY_NAMES = {
    "escape": "Esc",
    "enter": "Enter",
    "space": "Space",
    "tab": "Tab",
    "shift+tab": "Shift+Tab",
    "up": "↑",
    "down": "↓",
    "left": "←",
    "right": "→",
    "pageup": "PgUp",
    "pagedown": "PgDn",
    "home": "Home",
    "end": "End",
    "backspace": "⌫",
    "delete": "Del",
}


def key_label(key: str) -> str:
    if key in KEY_NAMES:
        return KEY_NAMES[key]
    if key.startswith(("ctrl+", "shift+", "alt+")):
        return "+".join(p.capitalize() if len(p) > 1 else p.upper() for p in key.split("+"))
    if key.startswith("f") and key[1:].isdigit():
        return key.upper()
    return key


class WizardCommands(Provider):
    """Ctrl+P: every screen and main action, for the site picked on Home."""

    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        app = self.app
        assert isinstance(app, FactsyncApp)
        out: list[tuple[str, str, Callable[[], object]]] = []
        for title, help_text, action in COMMAND_TABLE:
            out.append((title, help_text, partial(app.run_command_action, action)))
        return out

    async def discover(self) -> Hits:
        for title, help_text, run in self._commands():
            yield DiscoveryHit(title, run, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, run in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), run, text=title, help=help_text)


COMMAND_TABLE: tuple[tuple[str, str, str], ...] = (
    ("Home: sites", "Pick or create a site", "home"),
    ("New site", "Create a volunteer-hours site", "new_site"),
    ("Begin Sync → Sync", "Re-run the saved setup for the current site", "resync"),
    ("Connect to FACTS", "Keys and the permission check", "connect"),
    ("Roster kind", "Students or parents", "kind"),
    ("Read from FACTS", "Fetch the roster with progress", "fetch"),
    ("Criteria", "Schools, statuses, grade levels, relationships", "criteria"),
    ("Review", "The students list or the parent subset grid", "review"),
    ("Conflicts", "Shared, missing and taken emails", "conflicts"),
    ("Preview", "What the sync will do, and likely duplicates", "preview"),
    ("Sync", "Apply the plan (opens the preview; s syncs)", "sync"),
    ("Accounts", "Search accounts, merge two", "accounts"),
    ("Hours", "Approve or reject pending hours", "hours"),
    ("Write-back", "Hours owed to FACTS: outbox, failures, retry", "writeback"),
    ("History", "Runs, their changes, undo the latest", "history"),
    ("Families", "Group FACTS family ids", "families"),
    ("Export invites CSV", "New accounts not invited yet", "invites"),
    ("Toggle walkthrough", "Explain each step and show the keys pressed (F2)", "walkthrough"),
    ("Help for this step", "F1", "help"),
)


class FactsyncApp(App[None]):
    """The wizard. ``services`` carries the store and (for tests) a FACTS transport."""

    CSS_PATH = "app.tcss"
    TITLE = "factsync"
    COMMANDS = App.COMMANDS | {WizardCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "Help", id="app.help", tooltip="Explain this step and its keys"),
        Binding("f2", "toggle_walkthrough", "Walkthrough", id="app.walkthrough",
                tooltip="Show a plain-words panel and the keys pressed, for a shared screen"),
    ]

    walkthrough: reactive[bool] = reactive(False)
    site: reactive[str | None] = reactive(None)
    """The site picked on Home: the command palette's actions apply to it."""

    def __init__(self, services: Services, *, walkthrough: bool = False) -> None:
        super().__init__()
        self.services = services
        self.keys: deque[str] = deque(maxlen=8)
        self.set_reactive(FactsyncApp.walkthrough, walkthrough)

    def get_default_screen(self) -> Screen[None]:
        from tui.screens.home import HomeScreen

        return HomeScreen(self.services)

    # --- walkthrough ----------------------------------------------------------------------------

    def action_toggle_walkthrough(self) -> None:
        self.walkthrough = not self.walkthrough

    def watch_walkthrough(self, on: bool) -> None:
        for panel in self.screen.query(WalkthroughPanel):
            panel.display = on
        self._show_keys()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded:
            self._record_key(event)
        await super().on_event(event)

    def _record_key(self, event: events.Key) -> None:
        focused = self.focused
        typing = isinstance(focused, (Input, TextArea)) and (
            event.is_printable or event.key in ("backspace", "delete")
        )
        if typing:
            # never echo what is typed (an API key may be going into a password field)
            if self.keys and self.keys[-1] == "typing…":
                return
            self.keys.append("typing…")
        else:
            printable = event.is_printable and event.character and event.key != "space"
            label = event.character if printable and event.character else key_label(event.key)
            active = self.screen.active_bindings.get(event.key)
            if active is not None and active.binding.description:
                label = f"{label} {active.binding.description}"
            self.keys.append(label)
        self._show_keys()

    def _show_keys(self) -> None:
        if not self.walkthrough:
            return
        for strip in self.screen.query(KeyStrip):
            strip.show(list(self.keys))

    # --- help and commands ------------------------------------------------------------------------

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss()
            return
        self.push_screen(HelpScreen(self.screen))

    def run_command_action(self, action: str) -> None:
        from tui import navigation

        navigation.run(self, action)


def make_app(store_path: str | Path | None, *, walkthrough: bool = False) -> FactsyncApp:
    """The factory the CLI uses: open the store, build the services, build the app."""
    store = open_store(store_path)
    return FactsyncApp(Services.from_env(store), walkthrough=walkthrough)
