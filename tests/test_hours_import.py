"""CSV import: each bad row reported by line, good rows imported in one transaction, no doubles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from core import hours as hrs
from core.cli import cli
from store.models import HourEntry, Outbox
from tests.test_writeback_support import Env, make_env

GOOD_AND_BAD = """email,date,hours,description,status
user0@example.org,2024-10-01,2,Book fair,approved
nobody@example.org,2024-10-01,2,Book fair,approved
USER1@example.org ,10/3/2024,1.5,"Car line, morning",pending
user2@example.org,2024-02-30,1,Gala,approved
user2@example.org,2024-10-04,-1,Gala,approved
user2@example.org,2024-10-04,3,"Multi
line note",Approved
user0@example.org,2024-10-05,1,Gala,maybe

user1@example.org,2024-10-06,1,Cleanup,
"""


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return make_env(tmp_path, accounts=3)


def test_bad_rows_are_reported_by_line_and_good_rows_imported(env: Env) -> None:
    result = hrs.import_csv(env.site, GOOD_AND_BAD, approved_by="Ms. Admin")
    assert [(e.line, e.message.split(": ", 1)[0]) for e in result.errors] == [
        (3, "nobody@example.org"),
        (5, "user2@example.org"),
        (6, "user2@example.org"),
        (9, "user0@example.org"),
    ]
    messages = [str(e) for e in result.errors]
    assert "no account with email 'nobody@example.org'" in messages[0]
    assert "not a date" in messages[1]
    assert "more than 0" in messages[2]
    assert "status 'maybe'" in messages[3]
    assert len(result.imported) == 4
    entries = list(HourEntry.select().order_by(HourEntry.id))
    assert [(e.account.email, e.status) for e in entries] == [
        ("user0@example.org", "approved"),
        ("user1@example.org", "pending"),
        ("user2@example.org", "approved"),
        ("user1@example.org", "pending"),
    ]
    assert entries[1].description == "Car line, morning"
    assert entries[2].description == "Multi line note"  # a quoted multi-line cell (lines 7-8)
    assert entries[0].approved_by == "Ms. Admin"
    # approved rows of linked accounts are enqueued with the import
    assert result.enqueued == 2 and Outbox.select().count() == 2


def test_importing_the_corrected_file_again_does_not_double_the_good_rows(env: Env) -> None:
    hrs.import_csv(env.site, GOOD_AND_BAD, approved_by="x")
    fixed = GOOD_AND_BAD.replace("nobody@", "user2@").replace("maybe", "approved")
    result = hrs.import_csv(env.site, fixed, approved_by="x")
    assert len(result.imported) == 2  # the two fixed lines
    assert [d.line for d in result.duplicates] == [2, 4, 7, 11]
    assert HourEntry.select().count() == 6


def test_strict_imports_nothing_when_a_row_is_bad(env: Env) -> None:
    result = hrs.import_csv(env.site, GOOD_AND_BAD, approved_by="x", strict=True)
    assert result.errors and not result.imported
    assert HourEntry.select().count() == 0


def test_header_problems_are_line_1(env: Env) -> None:
    result = hrs.import_csv(env.site, "email,date,hours\nuser0@example.org,2024-10-01,1\n",
                            approved_by="x")
    assert [str(e) for e in result.errors] == [
        "line 1: the header lacks column(s) description, status"
    ]
    assert str(hrs.import_csv(env.site, "", approved_by="x").errors[0]).startswith("line 1:")


def test_bom_extra_columns_and_header_case_are_tolerated(env: Env) -> None:
    text = "\ufeffEmail, Date ,HOURS,Description,Status,Notes\nuser0@example.org,2024-10-01,1,x,,hi\n"
    result = hrs.import_csv(env.site, text, approved_by="x")
    assert not result.errors and len(result.imported) == 1


def test_a_failure_midway_rolls_the_whole_import_back(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    real = hrs._create

    def flaky(*args: object, **kw: object) -> HourEntry:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(hrs, "_create", flaky)
    with pytest.raises(RuntimeError):
        hrs.import_csv(env.site, GOOD_AND_BAD, approved_by="x")
    assert HourEntry.select().count() == 0 and Outbox.select().count() == 0


def test_cli_import_prints_line_errors_and_exits_1(env: Env, tmp_path: Path) -> None:
    path = tmp_path / "hours.csv"
    path.write_text(GOOD_AND_BAD, encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["hours", "import", env.site.name, str(path), "--db", str(env.store.path)]
    )
    assert result.exit_code == 1
    assert f"{path}: line 3: nobody@example.org" in result.output
    assert "imported 4 entries (2 queued for FACTS), 4 bad row(s) skipped" in result.output
    result = CliRunner().invoke(
        cli, ["hours", "import", env.site.name, str(path), "--json", "--db", str(env.store.path)]
    )
    body = json.loads(result.output)
    assert body["imported"] == 0 and len(body["duplicates"]) == 4 and len(body["errors"]) == 4
