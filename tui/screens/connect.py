"""Connect: base URL, the school's API key (password field), the vendor key, and the Check."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import reactive
from textual.widgets import Input, Label, Select, Static

from core.connection import DEFAULT_BASE_URL, ConnectionInfo, mask_key
from core.facts.plans import PLANS, SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY
from tui.flow import StepId
from tui.screens.base import FactsyncScreen
from tui.services import Services, ago
from tui.widgets.safe_text import safe_text

WRITE_CONSEQUENCE = (
    "hours will not be written back: set People to Write in FACTS under "
    "System > Configuration > API Configuration"
)
READ_CONSEQUENCE = (
    "factsync cannot read the roster: set People to Read (or Write) in FACTS under "
    "System > Configuration > API Configuration"
)


def permissions_text(info: ConnectionInfo | None, now: datetime) -> Text:
    """People read / People write with what they mean, in words."""
    t = Text(end="")
    if info is None or info.people_read is None:
        t.append("Not checked yet. ", style="dim")
        t.append("Press Enter in a field (or F5) to save the keys and check them.", style="dim")
        return t

    def line(label: str, ok: bool | None, consequence: str) -> None:
        t.append(f"{label:<15}", style="bold")
        if ok:
            t.append("✓ yes\n", style="green")
        else:
            t.append("✗ no", style="red")
            t.append(f" — {consequence}\n")

    line("People read", info.people_read, READ_CONSEQUENCE)
    line("People write", info.people_write, WRITE_CONSEQUENCE)
    line("Academics read", info.academics_read, "school years cannot be read (not needed to sync)")
    t.append(f"{'API key':<15}", style="bold")
    t.append(info.api_key_hint)
    if info.is_sandbox:
        t.append("  (sandbox key)", style="cyan")
    t.append(f"   checked {ago(info.checked_at, now)}", style="dim")
    return t


class ConnectScreen(FactsyncScreen[None]):
    TITLE_TEXT = "Connect to FACTS"
    STEP = StepId.CONNECT
    HELP = """\
# Connect

factsync reads the roster from the school's **FACTS SIS** with two keys:

- the **school API key**, created in FACTS under *System > Configuration > API Configuration >
  API Keys > Add Key* (shown once: paste it here). It is kept in a private file and shown only as
  its last four characters afterwards.
- the **subscription key** of the installation (the vendor key), usually configured once with
  `FACTSYNC_SUBSCRIPTION_KEY`.

**Check** asks FACTS what the key may do, without changing anything: *People read* is needed to
roster; *People write* is needed to send approved hours back to FACTS.
"""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back", tooltip="Back to Home"),
        Binding("f5", "check", "Check", id="connect.check",
                tooltip="Save the keys and ask FACTS what they may do"),
        Binding("enter", "next", "Next", id="next", tooltip="Go on to the roster kind"),
    ]

    checked_ok: reactive[bool] = reactive(False, bindings=True)
    busy: reactive[bool] = reactive(False, bindings=True)

    def __init__(self, services: Services, site: str) -> None:
        super().__init__(services, site)
        self.info: ConnectionInfo | None = None
        self.plan = "advanced"

    def body(self) -> ComposeResult:
        with VerticalScroll(id="connect"):
            yield Label("FACTS API base URL")
            yield Input(DEFAULT_BASE_URL, id="base-url")
            with Horizontal(classes="row"):
                with Vertical(classes="col"):
                    yield Label("School API key")
                    yield Input(password=True, id="api-key")
                with Vertical(classes="col"):
                    yield Label("Subscription key (vendor)")
                    yield Input(password=True, id="sub-key")
            with Horizontal(classes="row"):
                yield Label("FACTS plan (rate limits) ", classes="inline-label")
                yield Select(
                    [(name.capitalize(), name) for name in PLANS],
                    value="pro",
                    allow_blank=False,
                    id="facts-plan",
                    compact=True,
                )
            yield Static(id="key-note", classes="note")
            yield Static(Text("Not checked yet.", style="dim"), id="permissions",
                         classes="panel")

    def on_mount(self) -> None:
        super().on_mount()
        self.load()

    def load(self) -> None:
        self.run_core(self.core.connection, self.flow.site, then=self._loaded)

    def _loaded(self, loaded: tuple[str, ConnectionInfo | None]) -> None:
        self.plan, info = loaded
        self.info = info
        with self.prevent(Input.Changed):
            self._fill(info)

    def _fill(self, info: ConnectionInfo | None) -> None:
        api = self.query_one("#api-key", Input)
        sub = self.query_one("#sub-key", Input)
        note = Text(end="")
        if info is not None:
            self.query_one("#base-url", Input).value = info.base_url
            self.query_one("#facts-plan", Select).value = info.plan
            api.placeholder = f"saved {info.api_key_hint}: leave empty to keep"
            sub.placeholder = "saved: leave empty to keep"
            self.checked_ok = bool(info.people_read)
        else:
            api.placeholder = "paste the key from FACTS"
            sub.placeholder = "from configuration" if self.core.subscription_key else "paste"
        if self.core.subscription_key and info is None:
            sub.value = self.core.subscription_key
            note.append("The subscription key comes from FACTSYNC_SUBSCRIPTION_KEY.\n", style="dim")
        if info is not None and info.is_sandbox:
            api.value = SANDBOX_API_KEY
            sub.value = SANDBOX_SUBSCRIPTION_KEY
            note.append("Sandbox keys prefilled: ", style="bold cyan")
            note.append(
                f"'{mask_key(SANDBOX_API_KEY)}' is FACTS's sample-tenant key and the subscription "
                "key is the sandbox's own; neither is secret. This site talks to the in-process "
                "sandbox school, not a real FACTS.",
                style="cyan",
            )
        if self.plan != "advanced":
            note.append("\nThis site is on the basic plan: the FACTS integration needs Advanced.",
                        style="yellow")
        self.query_one("#key-note", Static).update(note)
        self.query_one("#permissions", Static).update(permissions_text(info, self.services.now()))
        if not self.checked_ok:
            (api if info is None else self.query_one("#base-url", Input)).focus()
        else:
            self.set_focus(None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next":
            return True if self.checked_ok and not self.busy else None
        if action == "check":
            return True if not self.busy else None
        return True

    @on(Input.Changed)
    def _edited(self, event: Input.Changed) -> None:
        if event.input.has_focus and event.input.id in ("base-url", "api-key", "sub-key"):
            self.checked_ok = False

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_check()

    def action_check(self) -> None:
        if self.busy:
            return
        if self.plan != "advanced":
            self.notify("The FACTS integration needs the site's Advanced plan.", severity="error")
            return
        base = self.query_one("#base-url", Input).value.strip() or DEFAULT_BASE_URL
        api = self.query_one("#api-key", Input).value.strip()
        sub = self.query_one("#sub-key", Input).value.strip()
        plan = str(self.query_one("#facts-plan", Select).value)
        info = self.info
        unchanged = info is not None and base == info.base_url and plan == info.plan
        if not api and not unchanged:
            self._show_error("Enter the school API key" + (
                " again to change the URL or the plan." if info is not None else "."))
            return
        if api and not sub and (info is None or not unchanged):
            self._show_error("Enter the subscription key too.")
            return
        self.busy = True
        self.query_one("#permissions", Static).update(Text("Checking with FACTS…", style="dim"))
        self._check(base, api or None, sub or None, plan)

    def _check(self, base: str, api: str | None, sub: str | None, plan: str) -> None:
        self.run_core(self.core.check_connection, self.flow.site, base, api, sub, plan,
                      then=self._checked, failed=self._failed)

    def _checked(self, info: ConnectionInfo | None) -> None:
        self.busy = False
        self.info = info
        self.checked_ok = bool(info and info.people_read)
        with self.prevent(Input.Changed):
            self.query_one("#api-key", Input).value = ""
        self.query_one("#api-key", Input).placeholder = (
            f"saved {info.api_key_hint}: leave empty to keep" if info else ""
        )
        self.query_one("#permissions", Static).update(permissions_text(info, self.services.now()))
        if self.checked_ok:
            self.set_focus(None)
            self.notify("Connected. Press Enter to go on.")

    def _failed(self, message: str) -> None:
        self.busy = False
        self.checked_ok = False
        self._show_error(message)

        def keep(loaded: tuple[str, ConnectionInfo | None]) -> None:
            self.info = loaded[1]  # a failing check never replaces a working key

        self.run_core(self.core.connection, self.flow.site, then=keep, group="connect-reload")

    def _show_error(self, message: str) -> None:
        t = Text("Not connected: ", style="bold red", end="")
        t.append_text(safe_text(message, 600, wrap=True))
        self.query_one("#permissions", Static).update(t)

    def action_next(self) -> None:
        if self.checked_ok:
            self.next_step()

