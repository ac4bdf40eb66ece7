"""CSV import: each bad line reported by number; a file with errors imports nothing unless
--skip-bad-lines; good rows imported in one transaction, no doubles."""

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
    result = hrs.import_csv(env.site, GOOD_AND_BAD, approved_by="Ms. Admin", skip_bad_lines=True)
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
    hrs.import_csv(env.site, GOOD_AND_BAD, approved_by="x", skip_bad_lines=True)
    fixed = GOOD_AND_BAD.replace("nobody@", "user2@").replace("maybe", "approved")
    result = hrs.import_csv(env.site, fixed, approved_by="x", skip_bad_lines=True)
    assert len(result.imported) == 2  # the two fixed lines
    assert [d.line for d in result.duplicates] == [2, 4, 7, 11]
    assert HourEntry.select().count() == 6


def test_a_file_with_a_bad_row_imports_nothing_by_default(env: Env) -> None:
    for result in (
        hrs.import_csv(env.site, GOOD_AND_BAD, approved_by="x"),
        hrs.import_csv(env.site, GOOD_AND_BAD, approved_by="x", strict=True),
    ):
        assert len(result.errors) == 4 and not result.imported and result.stopped
    assert HourEntry.select().count() == 0


def test_header_problems_are_line_1(env: Env) -> None:
    result = hrs.import_csv(env.site, "email,date,hours\nuser0@example.org,2024-10-01,1\n",
                            approved_by="x")
    assert [str(e) for e in result.errors] == [
        "line 1: the header lacks column(s) description, status"
    ]
    assert str(hrs.import_csv(env.site, "", approved_by="x").errors[0]).startswith("line 1:")


def test_bom_and_header_case_are_tolerated(env: Env) -> None:
    text = "\ufeffEmail, Date ,HOURS,Description,Status\nuser0@example.org,2024-10-01,1,x,\n"
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
        hrs.import_csv(env.site, GOOD_AND_BAD, approved_by="x", skip_bad_lines=True)
    assert HourEntry.select().count() == 0 and Outbox.select().count() == 0


def test_cli_import_prints_line_errors_and_exits_1(env: Env, tmp_path: Path) -> None:
    path = tmp_path / "hours.csv"
    path.write_text(GOOD_AND_BAD, encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["hours", "import", env.site.name, str(path), "--db", str(env.store.path)]
    )
    assert result.exit_code == 1
    assert f"{path}: line 3: nobody@example.org" in result.output
    assert "nothing imported: 4 bad line(s); fix them, or import the good lines with " \
        "--skip-bad-lines" in result.output
    assert HourEntry.select().count() == 0
    result = CliRunner().invoke(
        cli, ["hours", "import", env.site.name, str(path), "--skip-bad-lines",
              "--db", str(env.store.path)]
    )
    assert result.exit_code == 1
    assert "imported 4 entries (2 queued for FACTS), 4 bad row(s) skipped" in result.output
    result = CliRunner().invoke(
        cli, ["hours", "import", env.site.name, str(path), "--json", "--skip-bad-lines",
              "--db", str(env.store.path)]
    )
    body = json.loads(result.output)
    assert body["imported"] == 0 and len(body["duplicates"]) == 4 and len(body["errors"]) == 4


# --- hostile files: each malformed line named by number, nothing imported ------------------------

HEADER = "email,date,hours,description,status\n"


def test_an_unbalanced_quote_is_reported_not_swallowed(env: Env) -> None:
    text = (HEADER + 'user0@example.org,2024-10-01,1,"Book fair,approved\n'
            "user1@example.org,2024-10-02,2,Gala,approved\n"
            "user2@example.org,2024-10-03,3,Cleanup,approved\n")
    result = hrs.import_csv(env.site, text, approved_by="x")
    assert [str(e) for e in result.errors] == [
        "line 2: a quote opened here is never closed (lines 2-4 were read as one record)"
    ]
    assert result.stopped and HourEntry.select().count() == 0
    closed_later = text + 'user2@example.org,2024-10-04,1,x",approved\nuser0@example.org,2024-10-05,1,y,\n'
    result = hrs.import_csv(env.site, closed_later, approved_by="x")
    assert str(result.errors[0]).startswith(
        "line 2: a quote opened here is not closed on this line: lines 2-5 were read as one record"
    )
    assert HourEntry.select().count() == 0


def test_over_long_fields_duplicate_and_unknown_columns(env: Env) -> None:
    long = HEADER + f"user0@example.org,2024-10-01,1,{'x' * 140_000},\nuser1@example.org,2024-10-02,1,ok,\n"
    result = hrs.import_csv(env.site, long, approved_by="x", skip_bad_lines=True)
    assert [str(e) for e in result.errors] == ["line 2: a field is longer than 131,072 characters"]
    assert len(result.imported) == 1  # the good line, as asked
    doubled = "email,date,hours,hours,description,status\nuser0@example.org,2024-10-01,1,2,x,\n"
    assert [str(e) for e in hrs.import_csv(env.site, doubled, approved_by="x").errors] == [
        "line 1: the header names column(s) hours twice"
    ]
    unknown = "email,date,hrs,description,status\nuser0@example.org,2024-10-01,1,x,\n"
    errors = [str(e) for e in hrs.import_csv(env.site, unknown, approved_by="x",
                                             skip_bad_lines=True).errors]
    assert errors == [
        "line 1: unknown column(s) hrs (expected email,date,hours,description,status)",
        "line 1: the header lacks column(s) hours",
    ]
    assert HourEntry.select().count() == 1


@pytest.mark.parametrize(("hours", "ok"), [("0.004", False), ("0.01", True), ("24", True),
                                           ("24.01", False), ("0", False)])
def test_hours_from_a_hundredth_to_24(env: Env, hours: str, ok: bool) -> None:
    result = hrs.import_csv(env.site, HEADER + f"user0@example.org,2024-10-01,{hours},x,\n",
                            approved_by="x")
    assert (not result.errors) == ok
    if hours == "0.004":
        assert "is less than 0.01" in str(result.errors[0])
    with pytest.raises(ValueError) if not ok else _nothing():
        hrs.parse_hours(hours)


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
