"""The sync commands in-process (click's runner) over the in-process sandbox: errors, usage, output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from core.cli import cli
from core.facts.plans import SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY


class Run:
    def __init__(self, tmp: Path) -> None:
        self.db = str(tmp / "s.db")
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int = 0) -> Result:
        result = self.runner.invoke(
            cli, [*args, "--db", self.db],
            env={"FACTSYNC_SUBSCRIPTION_KEY": SANDBOX_SUBSCRIPTION_KEY,
                 "FACTSYNC_API_KEY": SANDBOX_API_KEY},
        )
        assert result.exit_code == code, f"{args}: {result.exit_code} {result.output}"
        return result

    def json(self, *args: str, code: int = 0) -> Any:
        return json.loads(self(*args, "--json", code=code).stdout)


@pytest.fixture
def run(tmp_path: Path) -> Run:
    r = Run(tmp_path)
    r("site", "add", "kids")
    r("connect", "kids", "--base-url", "sandbox:?families=25&seed=2")
    r("setup", "kids", "--kind", "students")
    return r


def test_refusals_and_usage_errors(run: Run) -> None:
    run("site", "add", "free", "--plan", "basic")
    assert "'advanced' plan" in run("setup", "free", "--kind", "parents", code=1).stderr
    assert "'advanced' plan" in run("sync", "free", code=1).stderr
    assert "already exists" in run("site", "add", "kids", code=1).stderr
    assert "no site named 'nope'" in run("sync", "nope", code=1).stderr
    run("decide", "kids", code=2)
    run("decide", "kids", "--email", "a@x.org", "--skip", "--use-email2", code=2)
    run("family", "group", "kids", "12", code=2)
    run("family", "override", "kids", "12", code=2)
    run("sync", "kids", "--bogus", code=2)
    sites = run.json("site", "list")
    assert {s["name"]: s["plan"] for s in sites} == {"free": "basic", "kids": "advanced"}


def test_students_sync_history_merge_and_family_commands(run: Run) -> None:
    run("setup", "kids", "--kind", "students")
    first = run.json("sync", "kids", "--yes", code=3)  # its conflicts are new: attention
    assert first["counts"]["added"] > 0 and first["newConflicts"] == first["counts"]["conflicts"]
    text = run("sync", "kids").output  # the same conflicts again: nothing new waits, exit 0
    assert "nothing to change" in text and "left to decide" in text and "none new" in text
    accounts = run.json("accounts", "kids")
    assert {a["origin"] for a in accounts} == {"sis"}
    run("accounts", "add", "kids", "--email", "Coach@School.org", "--first", "Co", "--last", "Ach")
    assert "already has an account" in run(
        "accounts", "add", "kids", "--email", "coach@school.org ", "--first", "C", "--last", "A",
        code=1).stderr
    run("merge", "kids", "--keep", "coach@school.org", "--absorb", accounts[0]["email"], code=3)
    run("merge", "kids", "--keep", "coach@school.org", "--absorb", accounts[0]["email"], "--yes")
    history = run.json("history", "kids")
    assert [h["kind"] for h in history] == ["merge", "sync"]
    changes = run.json("history", "kids", "--run", str(history[0]["run"]))
    assert {c["action"] for c in changes} == {"merge", "archive", "setup"}  # setup: email pinned
    assert "reverted run 2" in run("undo", "kids", "--yes").output
    assert "(undone)" in run("history", "kids").output
    fams = {a["familyKey"] for a in accounts if a["familyKey"]}
    a, b = sorted(fams)[:2]
    assert f"{a}+{b}" in run("family", "group", "kids", b, a).output
    run("family", "override", "kids", a, "--exclude")
    result = run.json("sync", "kids", "--confirm-archive")
    assert result["counts"]["archived"] >= 1
    setup = run.json("setup", "kids")
    # every snake_case key keeps its name and gets a camelCase twin
    assert setup["parents"]["overrides"] == [{"family_id": int(a), "person_id": None,
                                              "include": False, "familyId": int(a),
                                              "personId": None}]
    assert setup["archiveThreshold"] == "20%" and setup["familyGroups"] == setup["family_groups"]


def test_every_wizard_use_case_has_a_command(run: Run) -> None:
    """Criteria options, ready-to-sync, decisions by kind with undo, merges after a sync."""
    options = run.json("setup", "kids", "--options")
    assert options["statuses"][0]["value"] == "Enrolled" and options["enrolledStudents"] > 0
    grades = [g["value"] for g in options["grades"]]
    assert grades.index("K") < grades.index("1") if {"K", "1"} <= set(grades) else True
    assert [s["readyToSync"] for s in run.json("site", "list")] == [True]
    dry = run.json("sync", "kids", "--dry-run", code=3)  # a first sync: every conflict is new
    missing = [c for c in dry["conflicts"] if c["kind"] == "missing-email"]
    assert missing and dry["enrolledStudents"] == options["enrolledStudents"]
    run("decide", "kids", "--bulk", "skip-no-email", code=3)  # no terminal: needs --yes
    saved = run("decide", "kids", "--bulk", "skip-no-email", "--yes").stdout
    assert f"({len(missing)} decisions;" in saved
    after = run.json("sync", "kids", "--dry-run")
    assert not [c for c in after["conflicts"] if c["kind"] == "missing-email"]
    assert "taken back: skip every person without an email" in run("decide", "kids",
                                                                   "--undo").stdout
    again = run.json("sync", "kids", "--dry-run", code=3)
    assert len([c for c in again["conflicts"] if c["kind"] == "missing-email"]) == len(missing)
    run("accounts", "add", "kids", "--email", "helper@example.org", "--first", "Hel",
        "--last", "Per")
    first = run.json("sync", "kids", "--yes", "--merge", "nobody@x.org=helper@example.org",
                     code=3)
    assert first["run"] == 1 and first["mergeErrors"] and first["invites"] == (
        first["counts"]["added"])
    run("sync", "kids", "--merge", "no-equals-sign", code=2)
