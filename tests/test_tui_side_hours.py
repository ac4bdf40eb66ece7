"""Hours screen: pending first, approve/reject like a person, the outbox count follows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from store.models import HourEntry, Outbox
from tests.conftest import (
    CONTROL_NAME,
    LONG_NAME,
    MARKUP_NAME,
    Env,
    StepApp,
    account,
    hours,
    make_env,
    raw_names,
    screen_text,
    settle,
    step_app,
)
from tui.flow import StepId
from tui.widgets.lazy_table import LazyTable


def populate(tmp_path: Path) -> Env:
    env = make_env(tmp_path)
    account(env, "ann.lee@example.org", "Ann", "Lee", person_id=1201, family="301")
    hostile = account(env, "hostile@example.org", "x", "y", person_id=1202, family="302")
    raw_names(hostile, MARKUP_NAME, CONTROL_NAME)
    manual = account(env, "manual@example.org", "M", "Anual")
    raw_names(manual, LONG_NAME, "Zed")
    hours(env, "ann.lee@example.org", 2.0, "Book fair", approved=True, day=dt.date(2024, 2, 1))
    hours(env, "ann.lee@example.org", 1.5, "Car wash", day=dt.date(2024, 2, 10))
    hours(env, "hostile@example.org", 3.0, "[red]Gala[/] setup " + "w" * 100,
          day=dt.date(2024, 2, 12))
    hours(env, "manual@example.org", 4.0, "Library", day=dt.date(2024, 1, 20))
    return env


def app_for(env: Env) -> StepApp:
    return step_app(env, StepId.HOURS)


def status_of(description: str) -> str:
    return str(HourEntry.get(HourEntry.description.startswith(description)).status)


async def test_pending_first_and_approval_enqueues_write_back(tmp_path: Path) -> None:
    env = populate(tmp_path)
    app = app_for(env)
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(LazyTable)
        statuses = [e.status for e in table.rows]
        assert statuses == ["pending", "pending", "pending", "approved"]
        text = screen_text(app)
        assert "Write-back outbox: 1 pending" in text
        assert "[red]Gala[/] setup" in text and MARKUP_NAME in text
        # the highlighted first row is the newest pending entry: the hostile one's gala
        await pilot.press("a")
        await settle(pilot)
        assert status_of("[red]Gala") == "approved"
        entry = HourEntry.get(HourEntry.description.startswith("[red]Gala"))
        assert Outbox.get(Outbox.entry == entry).operation == "create"
        text = screen_text(app)
        assert "Approved 1 entry; 1 queued for write-back to FACTS." in text
        assert "Write-back outbox: 2 pending" in text
        assert "queued" in text


async def test_select_two_and_reject_then_approve_unlinked(tmp_path: Path) -> None:
    env = populate(tmp_path)
    app = app_for(env)
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(pilot)
        await pilot.press("space", "space")  # selects the first two pending (cursor moves down)
        assert "2 selected" in screen_text(app)
        await pilot.press("r")
        await settle(pilot)
        assert status_of("[red]Gala") == "rejected"
        assert status_of("Car wash") == "rejected"
        assert "Rejected 2 entries." in screen_text(app)
        assert Outbox.select().count() == 1  # only the entry approved at the start
        # the only pending entry left is the manual account's: approval waits for a link
        await pilot.press("home", "a")
        await settle(pilot)
        assert status_of("Library") == "approved"
        assert HourEntry.get(HourEntry.description == "Library").approved_by == "Ms Admin"
        assert Outbox.select().count() == 1
        text = screen_text(app)
        assert "Approved 1 entry; 1 wait for their account to be linked to FACTS." in text
        assert "waiting-link" in text


def test_snapshot_hours_100x32(tmp_path: Path, snap_compare: Any) -> None:
    env = populate(tmp_path)
    assert snap_compare(app_for(env), terminal_size=(100, 32), press=["space"], run_before=settle)


def test_snapshot_hours_80x24(tmp_path: Path, snap_compare: Any) -> None:
    env = populate(tmp_path)
    assert snap_compare(app_for(env), terminal_size=(80, 24), run_before=settle)


def test_two_accounts_with_one_name_show_their_emails() -> None:
    """Hours names each entry's person; two different accounts called alike are told apart."""
    from core.hours import EntryView
    from tests.conftest import DAY
    from tui.screens.hours import who_labels

    def entry(i: int, name: str, email: str) -> EntryView:
        return EntryView(id=i, email=email, name=name, person_id=None, date=DAY, hours=1.0,
                         description="", status="pending", verifier=None, approved_by=None,
                         approved_at=None, writeback=None, service_hours_id=None,
                         last_error=None)

    labels = who_labels([entry(1, "Stephanie Nakamura", "s.n@home.example"),
                         entry(2, "Stephanie Nakamura", "snakamura73@example.org"),
                         entry(3, "Stephanie Nakamura", "s.n@home.example"),
                         entry(4, "Pat Rivera", "pat@example.org")])
    assert labels == {1: "Stephanie Nakamura <s.n@home.example>",
                      2: "Stephanie Nakamura <snakamura73@example.org>",
                      3: "Stephanie Nakamura <s.n@home.example>", 4: "Pat Rivera"}
