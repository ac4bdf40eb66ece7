"""End to end through the CLI: `factsync sandbox serve` on loopback, then the sync commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.facts.plans import SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY

ROOT = Path(__file__).resolve().parent.parent
FACTSYNC = [sys.executable, "-c", "from core.cli import main; main()"]


@pytest.fixture
def server() -> Iterator[str]:
    proc = subprocess.Popen(
        [*FACTSYNC, "sandbox", "serve", "--families", "40", "--seed", "11", "--port", "0",
         "--plan", "enterprise"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("base URL: "):
                yield line.removeprefix("base URL: ").strip()
                break
        else:
            raise AssertionError("the sandbox did not print its base URL")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class Cli:
    def __init__(self, tmp: Path) -> None:
        self.env = {
            **os.environ,
            "FACTSYNC_DB": str(tmp / "store.db"),
            "FACTSYNC_SUBSCRIPTION_KEY": SANDBOX_SUBSCRIPTION_KEY,
            "FACTSYNC_API_KEY": SANDBOX_API_KEY,
            "PYTHONPATH": str(ROOT),
        }

    def __call__(self, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([*FACTSYNC, *args], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == code, f"{args}: {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        assert SANDBOX_API_KEY not in proc.stdout + proc.stderr
        return proc

    def json(self, *args: str, code: int = 0) -> Any:
        return json.loads(self(*args, "--json", code=code).stdout)


def test_cli_end_to_end_against_the_loopback_sandbox(server: str, tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    cli("site", "add", "pta")
    out = cli("connect", "pta", "--base-url", server, "--facts-plan", "enterprise").stdout
    assert "People write:   yes" in out
    cli("setup", "pta", "--kind", "parents", "--parents", "all")

    dry = cli.json("sync", "pta", "--dry-run", code=3)  # a first sync: its conflicts are new
    assert dry["run"] is None and dry["counts"]["added"] > 20
    first = cli.json("sync", "pta", "--yes", code=3)
    assert set(first) >= {"run", "counts", "conflicts", "duplicates", "unreadable", "hold",
                          "attention"}
    assert set(first["counts"]) == {"added", "linked", "updated", "archived", "restored",
                                     "unchanged", "skipped", "conflicts", "held", "unreadable"}
    assert isinstance(first["run"], int) and first["counts"] == dry["counts"]
    assert first["counts"]["conflicts"] == len(first["conflicts"]) > 0

    accounts = cli.json("accounts", "pta")
    assert len(accounts) == first["counts"]["added"]
    assert set(accounts[0]) == {"id", "email", "firstName", "lastName", "status", "origin",
                                "personId", "familyKey", "hours", "invited"}
    assert {a["origin"] for a in accounts} == {"sis"} and {a["status"] for a in accounts} == {"active"}

    # a saved decision resolves its conflict on the next sync; the others still wait
    c = first["conflicts"][0]
    pid = str(c["people"][0]["personId"])
    if c["kind"].startswith("shared-email"):
        cli("decide", "pta", "--email", c["email"], "--person", pid)
    elif c["kind"] == "multi-family":
        cli("decide", "pta", "--person", pid)
    else:
        cli("decide", "pta", "--person", pid, "--skip")
    second = cli.json("sync", "pta")
    assert second["counts"]["conflicts"] == first["counts"]["conflicts"] - 1
    assert c["key"] not in {k["key"] for k in second["conflicts"]}

    # a narrower filter would archive most of the school: the archives are held (exit 3), the
    # hold is approved (asked first), and undo reverts it
    cli("setup", "pta", "--grade", "12")
    held = cli.json("sync", "pta", code=3)
    assert held["hold"]["count"] > 0 and held["counts"]["archived"] == held["hold"]["count"]
    assert {a["status"] for a in cli.json("accounts", "pta")} == {"active"}
    again = cli("sync", "pta")  # the same hold still waits: nothing new, exit 0
    assert f"hold {held['hold']['id']} still waits" in again.stdout
    (listed,) = cli.json("holds", "pta")
    assert listed["id"] == held["hold"]["id"] and listed["reason"] and listed["createdAt"]
    cli("holds", "approve", "pta", str(listed["id"]), code=3)  # no terminal, no --yes
    approved = cli.json("holds", "approve", "pta", str(listed["id"]), "--yes")
    assert approved["archived"] == listed["count"]
    archived = [a for a in cli.json("accounts", "pta") if a["status"] == "archived"]
    assert len(archived) == listed["count"]
    cli("undo", "pta", "--yes")
    assert {a["status"] for a in cli.json("accounts", "pta")} == {"active"}

    csv_file = tmp_path / "invites.csv"
    out = cli("invites", "pta", "--csv", str(csv_file), "--mark-invited").stdout
    assert "marked invited" in out
    assert csv_file.read_text(encoding="utf-8").startswith("email,firstName,lastName,family\n")
