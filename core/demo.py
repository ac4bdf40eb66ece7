"""The demo store ``make demo`` opens: one advanced site on the in-process sandbox school.

A fresh store every time, so a new user can run a whole parents sync and a re-sync in a couple
of minutes. It holds a few accounts typed in by hand that already have hours, chosen from the
sandbox school so the sync has something to show:

- two whose emails match FACTS parents in another case (the sync merges them by email and their
  approved hours start flowing back to FACTS);
- one under a different email than FACTS has, same name (the preview offers to merge it);
- one volunteer FACTS does not know (stays a manual account, never archived).

The connection uses the sandbox keys from ``core.facts.plans``, labelled as such on screen.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from core.accounts import add_account
from core.connection import check_connection, save_connection
from core.facts.errors import FactsError
from core.facts.fetch import roster_from_tables
from core.facts.plans import SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY
from core.facts.sandbox import School, generate_school
from core.hours import add_entry
from core.roster import Roster
from core.sites import add_site
from core.sync.plan import PlanItem, make_plan
from core.sync.setup import PRESETS, ParentRules, SetupDoc
from store import Store, open_store

DEMO_FAMILIES = 300
DEMO_SEED = 7
DEMO_BASE_URL = f"sandbox:?families={DEMO_FAMILIES}&seed={DEMO_SEED}"
DEMO_SITE = "Lincoln PTA"
DEMO_DB_NAME = "factsync-demo.db"


@dataclass(frozen=True)
class DemoAccount:
    email: str
    first_name: str
    last_name: str
    why: str


def roster_from_school(school: School, kind: str = "parents") -> Roster:
    """The Roster a fetch of ``school`` would give, without HTTP (demo data, benchmarks)."""
    return roster_from_tables(school.to_json(), kind)


def _plain(it: PlanItem) -> bool:
    """A parent with an ordinary ASCII name and email (the demo's hand-made accounts)."""
    text = f"{it.name}{it.email or ''}"
    return bool(it.email) and text.isascii() and text.replace(" ", "").replace(".", "").replace(
        "@", "").replace("-", "").replace("'", "").isalnum()


@lru_cache(maxsize=4)
def demo_accounts(families: int = DEMO_FAMILIES, seed: int = DEMO_SEED) -> tuple[DemoAccount, ...]:
    """The hand-made accounts, picked from the parents a first sync of the school would add."""
    roster = roster_from_school(generate_school(families=families, seed=seed))
    # parents every preset keeps, so the demo accounts show up whatever the admin picks
    kept: set[int] | None = None
    for preset in PRESETS:
        setup = SetupDoc(kind="parents", parents=ParentRules.model_validate({"preset": preset}))
        ids = {it.person_id for it in make_plan(setup, roster, []).of("add") if it.person_id}
        kept = ids if kept is None else kept & ids
    plan = make_plan(SetupDoc(kind="parents"), roster, [])
    adds = sorted((it for it in plan.of("add") if _plain(it) and it.person_id in (kept or ())),
                  key=lambda it: it.person_id or 0)
    if len(adds) < 3:
        raise RuntimeError("the sandbox school has too few plain parents for the demo")
    out: list[DemoAccount] = []
    for it, variant in zip(adds[:2], (str.upper, str.title), strict=True):
        assert it.email and it.target is not None
        out.append(DemoAccount(variant(it.email), it.target.first_name, it.target.last_name,
                               "same email as in FACTS, in another case"))
    third = adds[2]
    assert third.target is not None
    first, last = third.target.first_name, third.target.last_name
    home = f"{first}.{last}".lower().replace(" ", "").replace("'", "") + "@home-mail.example"
    out.append(DemoAccount(home, first, last, "same person, another email than FACTS has"))
    out.append(DemoAccount("pat.rivera@community.example", "Pat", "Rivera",
                           "a volunteer FACTS does not know"))
    return tuple(out)


HOURS: tuple[tuple[int, str, float, str, bool], ...] = (
    (0, "2024-10-05", 3.0, "Book fair setup", True),
    (0, "2024-11-12", 1.5, "Library shelving", False),
    (1, "2024-09-21", 4.0, "Fall festival", True),
    (2, "2024-10-19", 2.5, "Car wash", True),
    (2, "2024-11-02", 2.0, "Bake sale", False),
    (3, "2024-10-26", 5.0, "Garden day", True),
)
"""(account index, date, hours, description, approved)."""


def populate_demo(store: Store, *, check: bool = True) -> None:
    """Add the demo site, its sandbox connection, hand-made accounts and their hours."""
    site = add_site(store, DEMO_SITE, "advanced")
    save_connection(store, site, base_url=DEMO_BASE_URL, api_key=SANDBOX_API_KEY,
                    subscription_key=SANDBOX_SUBSCRIPTION_KEY, plan="enterprise")
    accounts = demo_accounts()
    for a in accounts:
        add_account(site, email=a.email, first_name=a.first_name, last_name=a.last_name)
    for index, day, hours, description, approved in HOURS:
        add_entry(site, email=accounts[index].email, day=date.fromisoformat(day), hours=hours,
                  description=description, approved_by="Demo Admin" if approved else None)
    if check:
        # in a thread of its own: callers may already run an event loop (the app, tests)
        with ThreadPoolExecutor(1) as pool, contextlib.suppress(FactsError):
            pool.submit(asyncio.run, check_connection(store, site)).result()


def build_demo_store(directory: str | Path | None = None) -> Path:
    """Create a fresh demo store (a new temp dir by default) and return the store's path."""
    folder = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="factsync-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / DEMO_DB_NAME
    for stale in folder.glob(DEMO_DB_NAME + "*"):
        stale.unlink()
    store = open_store(path)
    try:
        populate_demo(store)
    finally:
        store.close()
    return path
