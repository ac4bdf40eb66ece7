"""Small hand-built FACTS schools for the sync tests, and the Roster they fetch to."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.connection import save_connection
from core.facts.fetch import roster_from_tables
from core.facts.plans import SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY
from core.facts.sandbox import Sandbox, SandboxConfig, School
from core.roster import Roster
from core.sites import add_site
from core.sync import service
from store import Store, open_store
from store.models import Site

Member = dict[str, Any]


def parent(pid: int, first: str, last: str, email: str | None = None, *, order: int = 1,
           rel: str = "Mother", custody: bool = True, email2: str | None = None) -> Member:
    return {"id": pid, "first": first, "last": last, "email": email, "email2": email2,
            "role": "parent", "order": order, "rel": rel, "custody": custody}


def student(pid: int, first: str, last: str, email: str | None = None, *, order: int = 3,
            grade: str = "05", status: str = "Enrolled", school: str = "ES",
            email2: str | None = None) -> Member:
    return {"id": pid, "first": first, "last": last, "email": email, "email2": email2,
            "role": "student", "order": order, "grade": grade, "status": status, "school": school}


def build_school(families: dict[int, list[Member]]) -> dict[str, list[dict[str, Any]]]:
    """FACTS-shaped tables (as School.from_json takes them) from {familyId: [members]}.

    Every parent of a family is linked to every student of that family; a person listed in two
    families appears once in people and twice in personFamily.
    """
    people: dict[int, dict[str, Any]] = {}
    students: dict[int, dict[str, Any]] = {}
    links: dict[tuple[int, int], dict[str, Any]] = {}
    pf: list[dict[str, Any]] = []
    fams: list[dict[str, Any]] = []
    for fid, members in families.items():
        fams.append({"familyID": fid, "familyName": members[0]["last"] if members else ""})
        for m in members:
            people[m["id"]] = {"personId": m["id"], "firstName": m["first"], "lastName": m["last"],
                               "email": m["email"] or "", "email2": m.get("email2") or ""}
            pf.append({"personId": m["id"], "familyId": fid, "parent": m["role"] == "parent",
                       "student": m["role"] == "student", "familyOrder": m["order"]})
            if m["role"] == "student":
                students[m["id"]] = {
                    "personStudentId": 900000 + m["id"], "studentId": m["id"],
                    "schoolCode": m["school"],
                    "school": {"status": m["status"], "gradeLevel": m["grade"]},
                }
        for p in (m for m in members if m["role"] == "parent"):
            for s in (m for m in members if m["role"] == "student"):
                links[(p["id"], s["id"])] = {
                    "id": len(links) + 1, "parentID": p["id"], "studentID": s["id"],
                    "relationship": p["rel"], "custody": p["custody"],
                }
    return {
        "people": list(people.values()),
        "students": list(students.values()),
        "parentStudent": list(links.values()),
        "personFamily": pf,
        "families": fams,
        "schoolYears": [],
        "schoolConfigurations": [{"configSchoolID": 1, "schoolCode": "ES", "schoolName": "Elementary"}],
    }


def roster_of(tables: dict[str, list[dict[str, Any]]]) -> Roster:
    """The Roster a fetch of these tables yields (without HTTP), for pure planner tests."""
    return roster_from_tables(tables, "parents")


# --- a store + site + in-process sandbox, for scenario tests -------------------------------------


Tables = dict[str, list[dict[str, Any]]]


@dataclass
class Env:
    """A site connected to an in-process sandbox serving ``tables`` (swap them to change FACTS)."""

    store: Store
    site: Site
    tables: Tables
    sandbox: Sandbox

    def serve(self, tables: Tables) -> None:
        self.tables = tables
        self.sandbox = _sandbox(tables)

    def edit(self) -> Tables:
        """A deep copy of the current tables to change and ``serve``."""
        return copy.deepcopy(self.tables)

    async def sync(self, **kw: Any) -> service.SyncResult:
        return await service.sync(self.store, self.site.name, transport=self.sandbox.transport(), **kw)

    async def plan(self) -> service.SyncPlan:
        roster = await service.fetch(self.store, self.site.name, transport=self.sandbox.transport())
        return service.make_plan(self.store, self.site.name, roster)


def _sandbox(tables: Tables) -> Sandbox:
    return Sandbox(School.from_json(copy.deepcopy(tables)), SandboxConfig(plan="enterprise", rate_limits=False))


def make_env(tmp_path: Path, tables: Tables, kind: str = "parents", name: str = "pta",
             **setup: Any) -> Env:
    tmp_path.mkdir(parents=True, exist_ok=True)
    store = open_store(tmp_path / "s.db")
    site = add_site(store, name)
    save_connection(store, site, base_url="https://api.factsmgt.com", api_key=SANDBOX_API_KEY,
                    subscription_key=SANDBOX_SUBSCRIPTION_KEY, plan="enterprise")
    service.save_setup(store, site, kind=kind, **setup)
    return Env(store, site, tables, _sandbox(tables))


def add_hours(account_id: int, hours: float, status: str = "approved") -> int:
    from datetime import date

    from store.models import HourEntry

    entry: HourEntry = HourEntry.create(account=account_id, date=date(2026, 10, 1), hours=hours,
                                        status=status, description="bake sale")
    return entry.id


def accounts_by_email(site: Site) -> dict[str, Any]:
    from core.accounts import list_accounts

    return {a.email: a for a in list_accounts(site)}
