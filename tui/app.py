"""The factsync Textual app: services in through the constructor, one screen per step.

``make_app(store_path)`` is the factory the CLI uses; tests build
``FactsyncApp(Services(Workspace(store, transport=sandbox.transport())))`` (``tests/conftest.py``).
The app holds no data of its own beyond the site the admin is working on and the walkthrough
switch; it opens steps for the screens (``open_step``), reading the flow registry.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events
from textual.app import App
from textual.binding import Binding, BindingType
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Input, TextArea

from core.workspace import Workspace

if TYPE_CHECKING:
    from core.login.gate import LoginGate
from tui import flow
from tui.dialogs import HelpDialog
from tui.flow import Needs, StepId
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
    """Ctrl+P: every step of the flow registry and the main actions, for the site picked on Home."""

    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        app = self.app
        assert isinstance(app, FactsyncApp)
        out: list[tuple[str, str, Callable[[], object]]] = [
            (st.title, st.summary, partial(app.open_step, st.palette_opens or st.id, app.site))
            for st in flow.STEPS if st.palette
        ]
        out.append(("Toggle walkthrough", "Explain each step and show the keys pressed (F2)",
                    app.action_toggle_walkthrough))
        out.append(("Help for this step", "F1", app.action_help))
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


class FactsyncApp(App[None]):
    """The wizard. ``services`` carries the store and (for tests) a FACTS transport."""

    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "factsync"
    COMMANDS = App.COMMANDS | {WizardCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "Help", id="app.help", tooltip="Explain this step and its keys"),
        # kept out of the footer (the header line names it): footers must fit 80 columns
        Binding("f2", "toggle_walkthrough", "Walkthrough", id="app.walkthrough", show=False,
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
        # Home alone is imported to start: the other screens (and the FACTS models and httpx
        # they need) load in a thread once Home is painted (see ``on_mount``)
        from tui.screens.home import HomeScreen

        return HomeScreen(self.services)

    def on_mount(self) -> None:
        self.set_timer(0.3, self._load_the_other_screens)

    def _load_the_other_screens(self) -> None:
        def load() -> None:
            from tui import registry  # noqa: F401

        self.run_worker(load, thread=True, group="preload", exit_on_error=False)

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

    # --- help and navigation -------------------------------------------------------------------

    def action_help(self) -> None:
        if isinstance(self.screen, HelpDialog):
            self.screen.dismiss()
            return
        self.push_screen(HelpDialog(self.screen))

    def go_home(self) -> None:
        """Back to Home, closing every step above it."""
        while len(self.screen_stack) > 1:
            self.pop_screen()

    def open_step(self, step_id: StepId, site: str | None, *, replace: bool = False) -> None:
        """Open ``step_id`` for ``site``, with what it needs first (the Read step for a roster)."""
        from tui import registry

        step = flow.step(step_id)
        if step_id in (StepId.HOME, StepId.NEW_SITE):
            self.go_home()
            if step_id is StepId.NEW_SITE:
                self.call_later(self.screen.run_action, "new_site")
            return
        if site is None:
            self.notify("Pick a site on Home first.", severity="warning")
            return
        state = self.services.flow(site)
        screen: Screen[Any]
        if step.needs is Needs.ROSTER and state.roster is None:
            screen = registry.read_then(self.services, site, step_id)
        elif step.needs is Needs.PLAN and state.plan is None:
            self.notify("Preview the plan first: Sync applies the plan the Preview showed.",
                        severity="warning")
            return
        elif step_id is StepId.READ:
            screen = registry.read_then(self.services, site, step.next or StepId.CRITERIA)
        else:
            screen = registry.SCREENS[step_id](self.services, site)
        if replace:
            self.switch_screen(screen)
        else:
            self.push_screen(screen)


FOCUS_ON_LOAD = """<script>
/* factsync: the terminal takes the keyboard as soon as the page has it, so keys work (and the
   footer shows them) without a click first. */
(function focusTerminal(tries) {
  const box = document.querySelector(".xterm-helper-textarea");
  if (box) {
    box.focus();
    window.addEventListener("focus", () => box.focus());
    return;
  }
  if (tries > 0) setTimeout(() => focusTerminal(tries - 1), 50);
})(400);
</script>
"""


def serve(command: str, *, host: str, port: int, gate: LoginGate | None = None) -> None:
    """Offer ``command`` (the wizard) in a browser with textual-serve, focused on load.

    With a ``gate`` (``core.login.gate``) every route needs a login, and each session's wizard
    runs with that login as its actor (``core.actor.SERVE_LOGIN_ENV`` in the environment of the
    session's own process)."""
    import asyncio
    import logging

    from aiohttp import web
    from textual_serve.app_service import AppService
    from textual_serve.server import Server

    from core.actor import SERVE_LOGIN_ENV
    from core.login.gate import LOGIN_KEY
    from core.login.passwords import SHARED_PASSWORD_ENV

    class SessionAppService(AppService):
        """One session's wizard process: its login in the environment, no shared password."""

        login: str | None = None

        def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
            env = super()._build_environment(width=width, height=height)
            env.pop(SHARED_PASSWORD_ENV, None)
            env.pop(SERVE_LOGIN_ENV, None)
            if self.login:
                env[SERVE_LOGIN_ENV] = self.login
            return env

    class FactsyncServer(Server):
        async def _make_app(self) -> web.Application:
            app = await super()._make_app()
            if gate is not None:
                gate.install(app)
            return app

        async def handle_index(self, request: web.Request) -> Any:
            # the page's websocket URL names the host the browser used (a LAN name or address,
            # not the 0.0.0.0 listened on), so the session cookie goes with it
            self.public_url = f"{request.scheme}://{request.host}"
            response = await super().handle_index(request)
            if isinstance(response, web.Response) and response.text:
                response.text = response.text.replace("</body>", FOCUS_ON_LOAD + "</body>")
            return response

        async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
            """textual-serve's own handler (1.1), with the session's login for its process."""
            websocket = web.WebSocketResponse(heartbeat=15)
            width = _int(request.query.get("width"), 80)
            height = _int(request.query.get("height"), 24)
            service: SessionAppService | None = None
            try:
                await websocket.prepare(request)
                service = SessionAppService(
                    self.command, write_bytes=websocket.send_bytes,
                    write_str=websocket.send_str, close=websocket.close,  # type: ignore[arg-type]
                    download_manager=self.download_manager, debug=self.debug)
                service.login = request.get(LOGIN_KEY)
                await service.start(width, height)
                try:
                    await self._process_messages(websocket, service)
                finally:
                    await service.stop()
            except asyncio.CancelledError:
                await websocket.close()
            except Exception as error:  # noqa: BLE001 - as textual-serve: log, close the socket
                logging.getLogger("textual-serve").exception(error)
            finally:
                if service is not None:
                    await service.stop()
            return websocket

    FactsyncServer(command, host=host, port=port, title="factsync").serve()


def _int(value: str | None, default: int) -> int:
    try:
        return int(value or "")
    except ValueError:
        return default


def make_app(store_path: str | Path | None, *, walkthrough: bool = False) -> FactsyncApp:
    """The factory the CLI uses: open the store's workspace, build the services, build the app."""
    return FactsyncApp(Services(Workspace.open(store_path)), walkthrough=walkthrough)
