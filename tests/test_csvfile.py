"""The one CSV writer: spreadsheet formulas never run from a file factsync wrote."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from core.csvfile import csv_text, safe_cell, write_csv


@pytest.mark.parametrize("value", ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx"])
def test_a_cell_a_spreadsheet_would_run_is_quoted(value: str) -> None:
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["Ann", "a=b", "", "O'Brien", "1-2"])
def test_other_cells_are_left_as_they_are(value: str) -> None:
    assert safe_cell(value) == value
    assert safe_cell(None) == "" and safe_cell(12) == "12"


def test_write_csv_writes_whole_files(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    assert write_csv(path, ["name", "note"], [["=cmd|' /C calc'!A0", "line\nbreak"]]) == 1
    with path.open(newline="", encoding="utf-8") as fh:
        assert list(csv.reader(fh)) == [["name", "note"], ["'=cmd|' /C calc'!A0", "line\nbreak"]]
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]
    with pytest.raises(FileNotFoundError):
        write_csv(tmp_path / "missing" / "x.csv", ["a"], [])


def test_invites_go_through_the_writer() -> None:
    from core.accounts import INVITE_COLUMNS, Invite, invites_csv

    fields = {c: "x" for c in Invite.__dataclass_fields__}
    fields.update(email="=evil@x.org", first_name="+Ann", account_id=1)
    invite = Invite(**fields)  # type: ignore[arg-type]
    text = invites_csv([invite])
    assert text.splitlines()[0] == ",".join(INVITE_COLUMNS)
    assert "'=evil@x.org" in text and "'+Ann" in text
    assert text == csv_text(INVITE_COLUMNS, [invite.row()])
