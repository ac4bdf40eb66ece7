"""``factsync forget`` (issue 11 §5): one person's email and names leave every table and column
of the store, their hour totals stay under an anonymous id, nothing goes to FACTS, write-back
stays exactly once, and a later sync does not bring them back.

The person leaves traces everywhere a real site would: the journal (an add, a rename, a merge
with their second account), a decision about their email, a hold that listed them, a job
message, an event, hour entries sent to FACTS and one never sent.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from core import accounts as acc
from core import alerts
from core import hours as hrs
from core.events import site_events
from core.facts.sandbox import Sandbox, SandboxConfig, School
from core.forget import forget, forget_preview
from core.jobs import JobOutcome
from core.sync import service
from core.sync.plan import FORGOTTEN_SKIP
from store.models import ALL_MODELS, Account, Connection, HourEntry, Outbox, Site
from tests.conftest import TEST_USER
from tests.sync_support import Env, build_school, make_env, parent, student
from tests.test_cli_sync import Run
from tests.test_writeback_support import Env as WbEnv
from tests.test_writeback_support import hour_sync_on, make_client, worker

EMAIL = "zeb@zq.example"
SECOND = "Zeb.Home@zq.example"
FIRST, LAST, OLD_LAST = "Zebulon", "Quixley", "Quixly"
TRAP = "mezeb@zq.example"
"""Another person whose email ends in the forgotten one's: it must stay as it is."""


def tables(last: str = LAST) -> Any:
    """His family, and 40 more: a hold listing every parent fills more than a page of the file
    (whose old version must not stay in the file's free pages)."""
    others = {100 + i: [parent(1000 + 2 * i, "Pat", f"Doe{i}", f"pat{i}@doe.org"),
                        student(1001 + 2 * i, "Kid", f"Doe{i}", f"kid{i}@doe.org")]
              for i in range(40)}
    return build_school({
        10: [parent(1, FIRST, last, EMAIL), parent(2, "Ann", "Lee", "ann@lee.org", order=2),
             student(3, "Cy", "Lee", "cy@lee.org")],
        20: [parent(4, "Dee", "Fox", "dee@fox.org"), student(6, "Flo", "Fox", "flo@fox.org")],
        **others,
    })


def needles() -> list[re.Pattern[str]]:
    """What must be found nowhere: both emails (whole, so the trap's does not count), the first
    name and both last names."""
    emails = [re.compile(rf"(?<![\w.+-]){re.escape(e)}", re.IGNORECASE) for e in (EMAIL, SECOND)]
    return [*emails, *(re.compile(re.escape(n), re.IGNORECASE) for n in (FIRST, LAST, OLD_LAST))]


def traces() -> list[str]:
    """Every text value of every table and column of the store that shows the person."""
    found = []
    for model in ALL_MODELS:
        for f in model._meta.sorted_fields:
            for row_id, value in model.select(model.id, f).tuples():
                if isinstance(value, str) and any(p.search(value) for p in needles()):
                    found.append(f"{model._meta.table_name}.{f.column_name}#{row_id}: {value[:80]}")
    return found


def hour_totals() -> dict[int, float]:
    out: dict[int, float] = {}
    for e in HourEntry.select().where(HourEntry.status == "approved"):
        out[e.account_id] = out.get(e.account_id, 0.0) + e.hours
    return out


def outbox_rows() -> list[tuple[Any, ...]]:
    return [(o.entry_id, o.reference, o.service_hours_id, o.person_id, o.state, o.operation)
            for o in Outbox.select().order_by(Outbox.id)]


def serve(env: Env, school: Any) -> None:
    """FACTS with another roster; the service hours it holds stay (a file, as a tenant keeps
    them)."""
    hours_file = str(env.store.path.parent / "facts-hours.json")
    env.tables = school
    env.sandbox = Sandbox(School.from_json(copy.deepcopy(school)),
                          SandboxConfig(plan="enterprise", rate_limits=False,
                                        hours_file=hours_file))


def connected(env: Env) -> Env:
    serve(env, env.tables)
    hour_sync_on(env.site)
    Connection.update(people_read=True, people_write=True).execute()  # as a probe finds them
    return env


async def drain(env: Env) -> Any:
    async with make_client(env.sandbox.transport()) as client:
        return await worker(WbEnv(env.store, env.site, []), client).drain()


async def a_site_that_knows_zebulon(tmp_path: Path) -> Env:
    env = connected(make_env(tmp_path, tables(OLD_LAST)))
    acc.add_account(env.site, email=SECOND, first_name=FIRST, last_name=LAST)
    acc.add_account(env.site, email=TRAP, first_name="Mez", last_name="Ebb")
    hrs.add_entry(env.site, email=SECOND, day="2024-10-01", hours=3, description="Book fair",
                  approved_by="Ms Admin")
    hrs.add_entry(env.site, email=SECOND, day="2024-10-02", hours=1,
                  description=f"{FIRST} ran the cake stall with {FIRST} {LAST}'s kids")
    hrs.add_entry(env.site, email=TRAP, day="2024-10-03", hours=2, description="Gala",
                  approved_by="Ms Admin")
    await env.sync()  # run 1: adds Zebulon Quixly (a typo in FACTS)
    serve(env, tables())
    await env.sync()  # run 2: FACTS corrected the name: the journal keeps both
    acc.merge_accounts(env.store, env.site, keep=EMAIL, absorb=SECOND)  # run 3: his hours move
    service.decide(env.store, env.site, email=EMAIL, person_id=1)
    await drain(env)  # the 3 h of the book fair are in FACTS now
    empty = env.edit()
    empty["students"] = []
    serve(env, empty)
    held = await env.sync()  # a hold lists every parent, him too; then rejected
    assert held.hold is not None and any(r.email == EMAIL for r in held.hold.rows)
    service.reject_hold(env.store, env.site, held.hold.id, by="Ms Admin")
    alerts.record(env.site, JobOutcome(env.site.name, "sync", 3,
                                       message=f"{FIRST} {LAST} <{EMAIL}> waits for a decision"))
    serve(env, tables())
    return env


async def test_forget_leaves_no_trace_and_keeps_the_hours(tmp_path: Path) -> None:
    env = await a_site_that_knows_zebulon(tmp_path)
    assert len(traces()) > 10, traces()  # the person is everywhere before
    zeb = Account.get(Account.email_key == EMAIL)
    totals, outbox = hour_totals(), outbox_rows()
    trap_before = Account.get(Account.email == TRAP).__data__.copy()
    facts_before = len(env.sandbox.requests)

    preview = forget_preview(env.store, env.site, EMAIL)
    assert preview.account_ids[0] == zeb.id and len(preview.account_ids) == 2  # + the merged one
    assert (preview.entries, preview.approved_hours) == (2, 3.0) and preview.values > 5
    result = forget(env.store, env.site, EMAIL)

    assert traces() == []
    assert hour_totals() == totals and outbox_rows() == outbox  # hours and FACTS references stay
    assert len(env.sandbox.requests) == facts_before  # nothing was sent to FACTS
    assert (result.entries, result.approved_hours, result.kept_descriptions) == (2, 3.0, 0)
    gone = Account.get_by_id(zeb.id)
    assert (gone.email, gone.email_key, gone.first_name, gone.last_name, gone.status) == (
        None, None, "", "", "forgotten")
    assert gone.person_id == 1  # the FACTS link stays: write-back keeps its person
    assert Account.get(Account.email == TRAP).__data__ == trap_before
    assert "Ann" in {a.first_name for a in Account.select()}  # the family's others stay
    desc = HourEntry.get(HourEntry.hours == 1).description
    assert desc == f"[forgotten account {zeb.id}] ran the cake stall with [forgotten account " \
                   f"{zeb.id}]'s kids"
    # the forget is journaled: who, when, which account; never the email
    (event,) = [e for e in site_events(env.store, env.site) if e.action == "forget"]
    assert (event.actor, event.account_id) == (TEST_USER, zeb.id)
    assert f"account {zeb.id}" in event.summary and "2 hour entries" in event.summary
    # nor in the file: the old values are overwritten, not left in free pages or the log
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("s.db*"))
    for word in (FIRST, LAST, OLD_LAST):
        assert word.encode() not in raw and word.lower().encode() not in raw
    assert not re.search(rb"(?<![\w.+-])zeb@zq\.example", raw)

    # FACTS still has him: the next sync skips him and brings nothing back
    again = await env.sync()
    (skip,) = [it for it in again.plan.of("skip") if it.person_id == 1]
    assert skip.reason == FORGOTTEN_SKIP
    assert traces() == [] and Account.get_by_id(zeb.id).status == "forgotten"
    # write-back goes on exactly once: his new approved hours reach FACTS once, under person 1
    site = Site.get_by_id(env.site.id)  # as stored now: it rosters parents since run 1
    hrs.approve(site, [HourEntry.get(HourEntry.hours == 1).id], by="Ms Admin")
    await drain(env)
    await drain(env)
    rows = env.sandbox.service_hours("parents")
    assert sorted((r["personId"], r["hours"]) for r in rows) == [(1, 1.0), (1, 3.0)]
    # an undo of the merge leaves the forgotten accounts as they are
    service.undo(env.store, env.site)
    assert traces() == [] and Account.get_by_id(zeb.id).status == "forgotten"


async def test_a_description_facts_holds_is_kept_and_counted(tmp_path: Path) -> None:
    env = connected(make_env(tmp_path, tables()))
    await env.sync()
    hrs.add_entry(Site.get_by_id(env.site.id), email=EMAIL, day="2024-10-01", hours=2,
                  description=f"Library with {FIRST}", approved_by="Ms Admin")
    await drain(env)
    assert len(env.sandbox.service_hours("parents")) == 1
    result = forget(env.store, env.site, EMAIL)
    assert result.kept_descriptions == 1
    assert HourEntry.get().description == f"Library with {FIRST}"  # as FACTS holds it
    assert env.sandbox.service_hours("parents")[0]["description"] == f"Library with {FIRST}"


def test_forget_on_the_command_line_confirms_and_refuses_the_unknown(tmp_path: Path) -> None:
    run = Run(tmp_path)
    run("site", "add", "pta")
    run("accounts", "add", "pta", "--email", EMAIL, "--first", FIRST, "--last", LAST)
    refused = run("forget", "pta", "--email", EMAIL, code=3)  # no terminal, no --yes
    assert "--yes" in refused.output
    assert Account.get().email == EMAIL  # nothing changed
    out = run("forget", "pta", "--email", EMAIL, "--yes", "--json")
    data = json.loads(out.stdout)
    assert data["accounts"] == [Account.get().id] and data["rewritten"]["account"] == 1
    assert EMAIL not in out.stdout and FIRST not in out.stdout
    assert "holds nothing about" in run("forget", "pta", "--email", EMAIL, "--yes",
                                        code=1).output
    assert "Missing option '--email'" in run("forget", "pta", code=2).output
