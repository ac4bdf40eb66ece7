"""`factsync serve` in a real headless browser: keys work on load, without clicking the page.

Debian's chromium (``make test`` installs it) driven by Playwright (PyPI). The page is never
clicked: keys typed right after it loads must reach the app, open the New site dialog and create
a site, which the store then holds.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.sites import list_sites
from store import open_store
from tests.conftest import SITE, demo_store

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="chromium is not installed (make test installs it)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"factsync serve never listened on {port}")


def test_keys_reach_the_app_without_a_click(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    store = demo_store(tmp_path)
    db = tmp_path / "demo.db"
    store.close()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", "from core.cli import main; main()", "serve", "--db", str(db),
         "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "CI": "1"},
    )
    try:
        wait_for_port(port)
        with sync_playwright() as p:
            browser = p.chromium.launch_persistent_context(
                str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True,
                args=FLAGS, viewport={"width": 1000, "height": 640},
            )
            try:
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{port}/")
                page.wait_for_selector("body.-first-byte", timeout=20_000)
                page.wait_for_timeout(2_500)  # Home paints its sites
                home = page.screenshot()
                page.keyboard.press("n")  # no click anywhere: the page has the keyboard
                page.wait_for_timeout(1_500)
                assert page.screenshot() != home, "the screen did not change on a key"
                page.keyboard.type("Browser PTA")
                page.keyboard.press("Enter")
                deadline = time.monotonic() + 15
                names: list[str] = []
                while time.monotonic() < deadline:
                    check = open_store(db)
                    try:
                        names = [s.name for s in list_sites(check)]
                    finally:
                        check.close()
                    if "Browser PTA" in names:
                        break
                    time.sleep(0.2)
                assert names == [SITE, "Browser PTA"] or set(names) == {SITE, "Browser PTA"}
            finally:
                browser.close()
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
