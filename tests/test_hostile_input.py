"""Hostile input at the edges: keys with control characters, tiny hours, huge ids, --db typos,
and broken stores (full, read-only, damaged, locked) — each a clear sentence, nothing half-written."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import store.db
from core.cli import cli
from core.facts.client import FactsClient
from core.facts.errors import FactsError
from core.facts.plans import SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY
from core.facts.secrets import scrub

SPEC = "sandbox:?families=25&seed=2&history=light"
BAD_KEY = "Zk3vQ9mA7pL2xW8rT5nB1cY6dF4gH0jK\r\nInjected: yes"


class Cli:
    def __init__(self, db: Path) -> None:
        self.db = str(db)
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int = 0, key: str = SANDBOX_API_KEY) -> Result:
        env = {"FACTSYNC_SUBSCRIPTION_KEY": SANDBOX_SUBSCRIPTION_KEY, "FACTSYNC_API_KEY": key}
        result = self.runner.invoke(cli, [*args, "--db", self.db], env=env)
        assert result.exit_code == code, f"{args}: {result.exit_code} {result.output}"
        assert "Traceback" not in result.output
        return result


@pytest.fixture
def run(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "s.db")


def no_key_anywhere(tmp_path: Path, *texts: str) -> None:
    for text in texts:
        assert "Zk3vQ9mA7pL2xW8rT5nB1cY6dF4gH0jK" not in text
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert b"Zk3vQ9mA7pL2xW8rT5nB1cY6dF4gH0jK" not in path.read_bytes(), path


def test_a_key_with_a_line_break_or_space_is_refused_at_connect(run: Cli, tmp_path: Path) -> None:
    run("site", "add", "pta")
    result = run("connect", "pta", "--base-url", SPEC, key=BAD_KEY, code=1)
    assert "the school API key contains a line break or another control character" in result.output
    spaced = run("connect", "pta", "--base-url", SPEC, key="abcd efgh", code=1)
    assert "contains a space" in spaced.output
    status = run("site", "list", "--json")
    assert '"connected": false' in status.output
    no_key_anywhere(tmp_path, result.output, spaced.output, status.output)


def test_a_client_refuses_such_a_key_without_showing_it() -> None:
    with pytest.raises(FactsError) as info:
        FactsClient("https://api.factsmgt.com", SANDBOX_SUBSCRIPTION_KEY, BAD_KEY)
    assert "line break" in str(info.value)
    assert "Zk3v" not in str(info.value) and "Zk3v" not in repr(info.value)


def test_the_scrubber_covers_str_and_bytes_forms() -> None:
    secrets = [BAD_KEY, SANDBOX_SUBSCRIPTION_KEY]
    raw = BAD_KEY.encode()
    for text in (
        f"Illegal header value {raw!r}",
        f"value {BAD_KEY!r}",
        BAD_KEY,
        raw,
        b"prefix " + SANDBOX_SUBSCRIPTION_KEY.encode(),
    ):
        out = scrub(text, secrets)
        assert "Zk3vQ9mA7pL2xW8rT5nB1cY6dF4gH0jK" not in out and SANDBOX_SUBSCRIPTION_KEY not in out
        assert "••••" in out


def test_tiny_hours_and_huge_ids_are_usage_errors(run: Cli) -> None:
    run("site", "add", "pta")
    run("accounts", "add", "pta", "--email", "a@b.org", "--first", "A", "--last", "B")
    tiny = run("hours", "add", "pta", "--email", "a@b.org", "--date", "2024-10-01",
               "--hours", "0.004", "--description", "x", code=1)
    assert "is less than 0.01" in tiny.output
    huge = "12345678901234567890123"
    for args in (("decide", "pta", "--person", huge, "--skip"),
                 ("hours", "approve", "pta", huge),
                 ("family", "group", "pta", huge, "7"),
                 ("history", "pta", "--run", huge)):
        result = run(*args, code=2)
        assert "is not in the range" in result.output
    assert "no hour entries" in run("hours", "list", "pta").output


def test_an_explicit_db_in_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "s.db"
    result = Cli(missing)("site", "list", code=1)
    assert f"The folder {missing.parent} of the store {missing} does not exist" in result.output
    assert not missing.parent.exists()


def test_only_the_default_location_is_created_0700(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("FACTSYNC_DB", raising=False)
    result = CliRunner().invoke(cli, ["site", "list"])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "data" / "factsync"
    assert (folder / "factsync.db").exists()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def _pragmas(monkeypatch: pytest.MonkeyPatch, **extra: Any) -> None:
    monkeypatch.setattr(store.db, "PRAGMAS", {**store.db.PRAGMAS, **extra})


def accounts(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("select count(*) from account").fetchone()[0])


def test_a_damaged_store_is_one_sentence_even_for_status(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    db.write_bytes(b"this is not a SQLite file at all" * 100)
    for args in (("status", "pta"), ("site", "list")):
        result = Cli(db)(*args, code=1)
        assert result.output.strip() == (
            f"error: The store {db} is damaged (it is not a readable SQLite database). Restore it "
            "from a backup, or move it away and start a new store. Nothing was changed."
        )


def test_a_read_only_store(run: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    run("site", "add", "pta")
    _pragmas(monkeypatch, query_only=1)
    result = run("site", "add", "second", code=1)
    assert f"The store {run.db} is read-only." in result.output
    assert "second" not in run("site", "list").output


def test_a_store_locked_past_the_busy_timeout(run: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    run("site", "add", "pta")
    _pragmas(monkeypatch, busy_timeout=100)
    holder = sqlite3.connect(run.db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = run("site", "add", "second", code=1)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert f"The store {run.db} is locked by another factsync process" in result.output
    assert "Wait for it to finish" in result.output


def test_a_full_disk_mid_sync_writes_nothing(run: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    run("site", "add", "pta")
    # big enough that the sync cannot fit in the free space of the pages the store already has
    run("connect", "pta", "--base-url", SPEC.replace("families=25", "families=120"))
    run("setup", "pta", "--kind", "students")
    with sqlite3.connect(run.db) as conn:
        pages = int(conn.execute("pragma page_count").fetchone()[0])
    _pragmas(monkeypatch, max_page_count=pages)
    result = run("sync", "pta", "--yes", code=1)
    assert "cannot grow: the disk holding it is full. Free some space" in result.output
    assert "Nothing was changed." in result.output
    assert accounts(Path(run.db)) == 0
