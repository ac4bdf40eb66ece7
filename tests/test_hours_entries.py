"""Hour entries: validation, approval enqueues in the same transaction, edits, deletes, listing."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from core import hours as hrs
from core.cli import cli
from core.writeback.outbox import enqueue_for_accounts
from store.models import Account, HourEntry, Outbox
from tests.test_writeback_support import Env, make_client, make_env, make_sandbox, worker

TODAY = dt.date.today()


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return make_env(tmp_path, accounts=3)


def add(env: Env, email: str = "user0@example.org", **kw: object) -> HourEntry:
    args: dict[str, object] = {"day": "2024-10-01", "hours": "2", "description": "Book fair"}
    args.update(kw)
    return hrs.add_entry(env.site, email=email, **args)  # type: ignore[arg-type]


def test_add_finds_the_account_by_email_in_any_case_and_spacing(env: Env) -> None:
    entry = add(env, email="  USER1@Example.org ")
    assert entry.account.id == env.accounts[1].id
    assert entry.status == "pending" and Outbox.select().count() == 0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("hours", "0", "more than 0"),
        ("hours", "-1", "more than 0"),
        ("hours", "25", "more than 24"),
        ("hours", "two", "not a number"),
        ("hours", "nan", "more than 0"),
        ("day", "2024-13-01", "not a date"),
        ("day", (TODAY + dt.timedelta(days=1)).isoformat(), "in the future"),
        ("description", "x" * 256, "at most 255"),
    ],
)
def test_bad_values_are_refused_naming_the_account(
    env: Env, field: str, value: str, message: str
) -> None:
    with pytest.raises(hrs.HoursError, match=message) as err:
        add(env, **{field: value})
    assert "user0@example.org" in str(err.value)
    assert HourEntry.select().count() == 0


def test_unknown_email_is_refused(env: Env) -> None:
    with pytest.raises(hrs.HoursError, match="no account with email 'nobody@x.org'"):
        add(env, email="nobody@x.org")


def test_description_is_cleaned_of_control_characters(env: Env) -> None:
    entry = add(env, description="Book\x00 fair\n\tnight ")
    assert entry.description == "Book fair night"


def test_approving_a_linked_entry_enqueues_it_in_the_same_transaction(env: Env) -> None:
    entry = add(env)
    hrs.approve(env.site, [entry.id], by="Ms. Admin")
    row = Outbox.get(Outbox.entry == entry.id)
    assert (row.state, row.operation, row.resource) == ("pending", "create", "parents")
    assert row.reference == f"factsync:{env.site.id}:{entry.id}"
    fresh = HourEntry.get_by_id(entry.id)
    assert fresh.status == "approved" and fresh.approved_by == "Ms. Admin"


def test_a_failing_approval_leaves_neither_approval_nor_outbox_row(env: Env) -> None:
    entry = add(env)
    with pytest.raises(hrs.HoursError, match="no entry 999"):
        hrs.approve(env.site, [entry.id, 999], by="x")
    assert HourEntry.get_by_id(entry.id).status == "pending"
    assert Outbox.select().count() == 0


def test_unlinked_accounts_wait_and_are_enqueued_when_linked(tmp_path: Path) -> None:
    env = make_env(tmp_path, accounts=2, linked=False)
    entry = add(env, approved_by="Ms. Admin")
    assert Outbox.select().count() == 0
    assert hrs.list_entries(env.site)[0].writeback == "waiting-link"
    account = env.accounts[0]
    Account.update(person_id=100001, origin="sis").where(Account.id == account.id).execute()
    assert enqueue_for_accounts(env.site, [account.id]) == 1
    assert enqueue_for_accounts(env.site, [account.id]) == 0  # once only
    assert Outbox.get(Outbox.entry == entry.id).state == "pending"


async def test_reject_or_delete_before_sending_owes_facts_nothing(env: Env) -> None:
    a = add(env, approved_by="x")
    b = add(env, approved_by="x", description="Other")
    assert Outbox.select().count() == 2
    hrs.reject(env.site, [a.id])
    hrs.delete_entry(env.site, b.id)
    # FACTS is the witness: a restored store may not know these were sent, so the worker looks
    # them up before forgetting them; FACTS holds neither, so nothing is sent
    sb = make_sandbox()
    async with make_client(sb.transport()) as client:
        report = await worker(env, client).drain()
    assert report.dropped == 2 and sb.count("POST") == 0 and sb.count("PATCH") == 0
    assert Outbox.select().count() == 0
    assert [v.id for v in hrs.list_entries(env.site)] == [a.id]
    assert {v.id for v in hrs.list_entries(env.site, include_deleted=True)} == {a.id, b.id}


def test_changes_after_sending_become_update_or_withdraw(env: Env) -> None:
    entry = add(env, approved_by="x")
    Outbox.update(state="sent", service_hours_id=5).execute()
    hrs.edit_entry(env.site, entry.id, hours="3.5")
    row = Outbox.get(Outbox.entry == entry.id)
    assert (row.state, row.operation, row.service_hours_id) == ("pending", "update", 5)
    Outbox.update(state="sent").execute()
    hrs.unapprove(env.site, [entry.id])
    assert Outbox.get(Outbox.entry == entry.id).operation == "withdraw"
    hrs.approve(env.site, [entry.id], by="x")
    assert Outbox.get(Outbox.entry == entry.id).operation == "update"


def test_unknown_outcome_rows_are_kept_when_the_entry_is_rejected(env: Env) -> None:
    entry = add(env, approved_by="x")
    Outbox.update(outcome_unknown=True).execute()
    hrs.reject(env.site, [entry.id])
    # FACTS may hold it: the worker must look it up (and withdraw it), not forget it.
    assert Outbox.get(Outbox.entry == entry.id).outcome_unknown


def run(*args: str, db: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*args, "--db", str(db)], catch_exceptions=False)
    return result.exit_code, result.output


def test_cli_add_approve_list(env: Env) -> None:
    db = env.store.path
    code, out = run("hours", "add", env.site.name, "--email", "user0@example.org", "--date",
                    "2024-10-01", "--hours", "1.5", "--description", "Car line", db=db)
    assert code == 0 and "pending" in out
    code, out = run("hours", "add", env.site.name, "--email", "user1@example.org", "--date",
                    "2024-10-02", "--hours", "2", "--description", "Gala", "--approved",
                    "--by", "Coach K", db=db)
    assert code == 0 and "queued for FACTS" in out
    code, out = run("hours", "approve", env.site.name, "1", "--by", "Coach K", db=db)
    assert code == 0 and "entry 1: approved" in out
    code, out = run("hours", env.site.name, "--json", db=db)
    assert code == 0
    listed = json.loads(out)
    assert [e["id"] for e in listed] == [2, 1]
    assert listed[1] | {"approvedAt": None} == {
        "id": 1, "email": "user0@example.org", "name": "First0 Last0",
        "personId": env.accounts[0].person_id, "date": "2024-10-01", "hours": 1.5,
        "description": "Car line", "status": "approved", "verifier": None,
        "approvedBy": "Coach K", "approvedAt": None, "writeback": "queued",
        "serviceHoursId": None, "lastError": None,
    }
    code, out = run("hours", "list", env.site.name, "--status", "approved", db=db)
    assert code == 0 and "Car line" in out and "Gala" in out


def test_cli_errors_exit_1_with_the_reason(env: Env) -> None:
    db = env.store.path
    code, out = run("hours", "add", env.site.name, "--email", "user0@example.org", "--date",
                    "2024-10-01", "--hours", "30", "--description", "x", db=db)
    assert code == 1 and "more than 24" in out
    code, out = run("hours", "reject", env.site.name, "41", db=db)
    assert code == 1 and "no entry 41" in out
    code, out = run("hours", "nosuchsite", db=db)
    assert code == 1 and "no site named 'nosuchsite'" in out
    code, _ = run("hours", "approve", env.site.name, db=db)
    assert code == 2


def test_cli_edit_and_delete(env: Env) -> None:
    db = env.store.path
    entry = add(env, approved_by="x")
    code, out = run("hours", "edit", env.site.name, str(entry.id), "--hours", "4", db=db)
    assert code == 0
    assert HourEntry.get_by_id(entry.id).hours == 4.0
    code, _ = run("hours", "edit", env.site.name, str(entry.id), db=db)
    assert code == 2
    code, out = run("hours", "delete", env.site.name, str(entry.id), db=db)
    assert code == 0 and HourEntry.get_by_id(entry.id).deleted


def test_approving_again_requeues_a_failed_row(env: Env) -> None:
    entry = add(env, approved_by="x")
    Outbox.update(state="failed", attempts=8, outcome_unknown=True).execute()
    hrs.unapprove(env.site, [entry.id])
    assert Outbox.get().state == "pending"  # may be in FACTS: the worker looks it up
    hrs.approve(env.site, [entry.id], by="x")
    row = Outbox.get()
    assert (row.state, row.attempts, row.outcome_unknown) == ("pending", 0, True)
