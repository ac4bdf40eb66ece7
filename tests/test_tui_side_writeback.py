"""Write-back screen: permission in words, failed rows, retry, and one drain into the sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.connection import save_connection
from core.facts.plans import SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY
from core.facts.sandbox import generate_school
from store.models import Connection, HourEntry, Outbox, Site
from tests.conftest import (
    Env,
    StepApp,
    account,
    hours,
    make_env,
    screen_text,
    settle,
    step_app,
)
from tui.flow import StepId

HOSTILE_ERROR = "[bold]400[/] [link=http://e]bad\x1b[31m body"


def student_ids(n: int) -> list[int]:
    return [int(s["studentId"]) for s in generate_school(families=12, seed=5).students[:n]]


def populate(tmp_path: Path, *, people: str = "Write") -> Env:
    """A students site on the in-process sandbox: one failed row, one approved entry queued."""
    env = make_env(tmp_path, kind="students")
    Site.update(hour_sync=True).execute()  # new sites start with hour syncing off (issue 9)
    save_connection(env.store, env.site, base_url=f"sandbox:?families=12&seed=5&people={people}",
                    api_key=SANDBOX_API_KEY, subscription_key=SANDBOX_SUBSCRIPTION_KEY,
                    plan="enterprise")
    Connection.update(people_read=True, people_write=people == "Write",
                      last_error=None if people == "Write" else None).execute()
    first, second = student_ids(2)
    account(env, "kid.one@example.org", "Kid", "One", person_id=first, family="1")
    account(env, "kid.two@example.org", "Kid", "Two", person_id=second, family="2")
    failed = hours(env, "kid.one@example.org", 2.0, "Book fair", approved=True)
    Outbox.update(state="failed", attempts=8, last_error=HOSTILE_ERROR).where(
        Outbox.entry == failed).execute()
    hours(env, "kid.two@example.org", 1.5, "Car wash", approved=True)
    return env


def app_for(env: Env) -> StepApp:
    return step_app(env, StepId.WRITEBACK)


async def test_failed_rows_retry_and_send_now(tmp_path: Path) -> None:
    env = populate(tmp_path)
    app = app_for(env)
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "Write-back is ON" in text
        assert "(in-process sandbox)" in text
        assert "Write-back outbox: 1 pending · 0 unconfirmed · 0 sent · 1 failed" in text
        assert "Failed rows: 1" in text
        assert "[bold]400[/] [link=http://e]bad" in text and "\x1b" not in text
        await pilot.press("r")
        await settle(pilot)
        assert Outbox.select().where(Outbox.state == "failed").count() == 0
        text = screen_text(app)
        assert "1 failed row back in the queue" in text
        assert "Write-back outbox: 2 pending" in text
        await pilot.press("s")
        await settle(pilot)
        assert Outbox.select().where(Outbox.state == "sent").count() == 2
        assert all(o.service_hours_id for o in Outbox.select())
        text = screen_text(app)
        assert "write-back: created 2 (" in text
        assert "0 pending · 0 unconfirmed · 2 sent · 0 failed" in text
        assert HourEntry.select().count() == 2


async def test_read_only_key_says_why_and_sends_nothing(tmp_path: Path) -> None:
    env = populate(tmp_path, people="Read")
    app = app_for(env)
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "Write-back is OFF" in text
        await pilot.press("s")
        await settle(pilot)
        assert "Write-back is off:" in screen_text(app)
        assert Outbox.select().where(Outbox.state == "sent").count() == 0


def test_snapshot_writeback_80x24(tmp_path: Path, snap_compare: Any) -> None:
    env = populate(tmp_path)
    assert snap_compare(app_for(env), terminal_size=(80, 24), run_before=settle)
