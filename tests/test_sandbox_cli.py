"""``factsync sandbox generate`` and ``factsync sandbox serve``."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from click.testing import CliRunner

from core.cli import cli
from core.facts.plans import SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY
from core.facts.sandbox import School, generate_school

ROOT = Path(__file__).resolve().parent.parent


def test_generate_writes_the_seeded_school(tmp_path: Path) -> None:
    out = tmp_path / "school.json"
    result = CliRunner().invoke(
        cli, ["sandbox", "generate", "--families", "15", "--seed", "4", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output
    assert School.load(out).to_json() == generate_school(15, seed=4).to_json()


def test_generate_to_stdout() -> None:
    result = CliRunner().invoke(cli, ["sandbox", "generate", "--families", "3", "-o", "-"])
    assert result.exit_code == 0
    assert json.loads(result.output) == generate_school(3, seed=7).to_json()


def test_serve_bad_school_file_is_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    result = CliRunner().invoke(cli, ["sandbox", "serve", "--school", str(bad), "--port", "0"])
    assert result.exit_code == 2


def test_serve_prints_base_url_answers_and_summarises(tmp_path: Path) -> None:
    school = tmp_path / "school.json"
    generate_school(10, seed=1).save(school)
    code = "from core.cli import main; main()"
    args = ["sandbox", "serve", "--school", str(school), "--port", "0", "--people-scope", "read"]
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args, "--summary", "--plan", "basic"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        banner: list[str] = []
        base_url = ""
        for line in proc.stdout:
            banner.append(line)
            if line.startswith("base URL: "):
                base_url = line.removeprefix("base URL: ").strip()
            if line.startswith("Ctrl-C"):
                break
        assert base_url.startswith("http://127.0.0.1:"), banner
        text = "".join(banner)
        assert "sandbox subscription key" in text and SANDBOX_SUBSCRIPTION_KEY in text
        assert "People: Read" in text and "plan: basic" in text
        headers = {
            "Ocp-Apim-Subscription-Key": SANDBOX_SUBSCRIPTION_KEY,
            "Facts-Api-Key": SANDBOX_API_KEY,
        }
        with httpx.Client(base_url=base_url, headers=headers) as c:
            assert c.get("/People", params={"PageSize": 1}).status_code == 200
            assert c.patch("/People/0", json=[]).status_code == 403
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "requests: 2" in out
    assert "GET    /People  200" in out and "PATCH  /People/{id}  403" in out
