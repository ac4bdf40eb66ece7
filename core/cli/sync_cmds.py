"""Headless sync commands: sites, connection, setup, sync, decisions, accounts, history, undo.

The wizard calls the same functions (``core.sync.service``, ``core.accounts``); this module only
parses arguments, prints, and maps errors to the exit codes of the contract.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path

import click

from core import accounts as acc
from core.cli.common import (
    FACTS_ID,
    ROW_ID,
    confirm,
    db_option,
    fail,
    finish,
    json_option,
    opened_store,
    print_json,
)
from core.sites import add_site, get_site, list_sites, require_advanced
from core.sync import service
from core.sync.bulk import BULK_KEYS, bulk_decisions
from core.sync.criteria import criteria_options, enrolled_count
from core.sync.setup import PRESETS, RELATIONSHIP_GROUPS, Decision
from core.workspace import Workspace
from store import Store
from store.models import Site

_store = opened_store
"""Open the store for one command; refusals reach the group's one error contract."""


def _decision_json(d: Decision) -> dict[str, object]:
    return {"action": d.action, "email": d.email, "personId": d.person_id,
            "familyId": d.family_id, "decidedAt": d.decided_at.isoformat(),
            "label": service.decision_label(d)}


def _check_writable(path: str) -> None:
    """Refuse a report path whose folder is missing before fetching anything."""
    folder = Path(path).expanduser().resolve().parent
    if not folder.is_dir():
        raise click.UsageError(f"--report {path}: the folder {folder} does not exist")


def register(cli: click.Group) -> None:
    """Add this module's commands to ``cli``."""

    # --- sites -------------------------------------------------------------------------------

    @cli.group("site")
    def site_group() -> None:
        """Volunteer-hours sites: each rosters students or parents."""

    @site_group.command("add")
    @click.argument("name")
    @click.option("--plan", type=click.Choice(["basic", "advanced"]), default="advanced",
                  show_default=True, help="The site's plan; the FACTS integration needs advanced.")
    @db_option
    @json_option
    def site_add(name: str, plan: str, db: str | None, as_json: bool) -> None:
        """Add a site."""
        with _store(db) as store:
            site = add_site(store, name, plan)
            if as_json:
                print_json({"name": site.name, "plan": site.plan})
            else:
                click.echo(f"site {site.name!r} added (plan {site.plan})")

    @site_group.command("list")
    @db_option
    @json_option
    def site_list(db: str | None, as_json: bool) -> None:
        """List the sites of the store."""
        with _store(db) as store:
            sites = list_sites(store)
            ready = {c.name: c.ready_to_sync for c in Workspace(store).site_cards()}
            if as_json:
                print_json(
                    [
                        {"name": s.name, "plan": s.plan, "kind": s.kind, "active": s.accounts_active,
                         "archived": s.accounts_archived, "connected": s.connected,
                         "peopleRead": s.people_read, "peopleWrite": s.people_write,
                         "lastSyncAt": s.last_sync_at, "readyToSync": ready.get(s.name, False)}
                        for s in sites
                    ]
                )
                return
            if not sites:
                click.echo("no sites yet: factsync site add NAME")
            for s in sites:
                click.echo(
                    f"{s.name}  plan={s.plan}  kind={s.kind or '-'}  active={s.accounts_active}"
                    f"  archived={s.accounts_archived}  connected={'yes' if s.connected else 'no'}"
                )

    # --- connect -----------------------------------------------------------------------------

    @cli.command("connect")
    @click.argument("site")
    @click.option("--base-url", required=True, help="FACTS API base URL (or 'sandbox:').")
    @click.option("--facts-plan", type=click.Choice(["basic", "pro", "enterprise"]), default="pro",
                  show_default=True, help="The vendor subscription's FACTS plan (rate limits).")
    @click.option("--force", is_flag=True,
                  help="Save the keys even if their check fails (they are checked first anyway).")
    @db_option
    @json_option
    def connect(site: str, base_url: str, facts_plan: str, force: bool, db: str | None,
                as_json: bool) -> None:
        """Check the FACTS keys (from the environment or a hidden prompt), then save them.

        A check that fails saves nothing: the keys that worked stay in use (--force saves
        unchecked keys)."""
        from core.connection import CheckFailed
        from core.connection import connect as check_and_save

        sub = os.environ.get("FACTSYNC_SUBSCRIPTION_KEY") or click.prompt(
            "Subscription key", hide_input=True, err=True
        )
        key = os.environ.get("FACTSYNC_API_KEY") or click.prompt(
            "School API key", hide_input=True, err=True)
        with _store(db) as store:
            s = get_site(store, site)
            require_advanced(s)
            try:
                perms = asyncio.run(check_and_save(
                    store, s, base_url=base_url, api_key=key, subscription_key=sub,
                    plan=facts_plan, force=force))
            except CheckFailed as err:
                fail(f"{err}. Check the keys and the base URL, or save them unchecked with "
                     "--force", error_code="checkFailed")
            if perms is None:
                if as_json:
                    print_json({"saved": True, "checked": False, "peopleRead": None,
                                "peopleWrite": None, "academicsRead": None})
                else:
                    click.echo(f"saved the keys of {site} unchecked (--force): the check failed")
                return
            out = {"saved": True, "checked": True, "peopleRead": perms.people_read,
                   "peopleWrite": perms.people_write, "academicsRead": perms.academics_read}
            if as_json:
                print_json(out)
                return
            click.echo(f"connected {site} to {base_url}")
            click.echo(f"  People read:    {'yes' if perms.people_read else 'no'}")
            click.echo(f"  People write:   {'yes' if perms.people_write else 'no'}")
            click.echo(f"  Academics read: {'yes' if perms.academics_read else 'no'}")
            if not perms.people_write:
                click.echo("  People is not writable: approved hours will not be written back.")

    # --- setup -------------------------------------------------------------------------------

    @cli.command("setup")
    @click.argument("site")
    @click.option("--kind", type=click.Choice(["students", "parents"]), default=None)
    @click.option("--school", "schools", multiple=True, help="schoolCode (repeat; none = all).")
    @click.option("--grade", "grades", multiple=True, help="Grade level as the school spells it.")
    @click.option("--status", "statuses", multiple=True, help="Enrollment status (default Enrolled).")
    @click.option("--parents", "preset", type=click.Choice(list(PRESETS)), default=None)
    @click.option("--relationship", "relationships", multiple=True,
                  type=click.Choice(list(RELATIONSHIP_GROUPS)), help="Relationship groups that count.")
    @click.option("--all-schools", is_flag=True, help="Clear the school filter.")
    @click.option("--all-grades", is_flag=True, help="Clear the grade filter.")
    @click.option("--options", "show_options", is_flag=True,
                  help="Read FACTS and list the schools, statuses, grades (in school order) and "
                       "relationships this school uses, with counts; change nothing.")
    @click.option("--archive-threshold", "threshold", default=None, metavar="SHARE%|COUNT",
                  help="Hold a run's archives for a person above this share of the synced "
                       "accounts (20%) or this number of accounts (50). Default 20%.")
    @click.option("--schedule", default=None, metavar="CRON",
                  help="When the daemon syncs the site, as a cron expression (\"0 2 * * *\": "
                       "02:00 every night, local time); \"\" removes the schedule.")
    @db_option
    @json_option
    def setup(site: str, kind: str | None, schools: tuple[str, ...], grades: tuple[str, ...],
              statuses: tuple[str, ...], preset: str | None, relationships: tuple[str, ...],
              all_schools: bool, all_grades: bool, show_options: bool, threshold: str | None,
              schedule: str | None, db: str | None, as_json: bool) -> None:
        """Save the site's criteria (later calls change only what they name)."""
        from core import site_settings

        if show_options:
            _criteria_options(site, db, as_json)
            return
        with _store(db) as store:
            s = get_site(store, site)
            if threshold is not None:
                site_settings.set_threshold(store, s, threshold)
            if schedule is not None:
                site_settings.set_schedule(store, s, schedule)
            changes_criteria = any((kind, schools, grades, statuses, preset, relationships,
                                    all_schools, all_grades))
            if not changes_criteria and (threshold is not None or schedule is not None):
                cfg = site_settings.settings(s)
                if as_json:
                    print_json(cfg.to_json())
                else:
                    click.echo(f"{site}: archive threshold {cfg.threshold.text}; schedule "
                               f"{cfg.schedule or 'none'}")
                return
            doc = service.save_setup(
                store, site, kind=kind,
                schools=[] if all_schools else (list(schools) or None),
                grades=[] if all_grades else (list(grades) or None),
                statuses=list(statuses) or None,
                parents_preset=preset,
                relationships=list(relationships) or None,
            )
            if as_json:
                print_json(doc.model_dump(mode="json") | site_settings.settings(s).to_json())
                return
            c = doc.criteria
            click.echo(
                f"{site}: {doc.kind}; schools {', '.join(c.schools) or 'all'}; statuses "
                f"{', '.join(c.statuses)}; grades {', '.join(c.grades) or 'all'}"
                + (f"; parents {doc.parents.preset}" if doc.kind == "parents" else "")
            )

    # --- sync --------------------------------------------------------------------------------

    @cli.command("sync")
    @click.argument("site", required=False)
    @click.option("--all", "all_sites", is_flag=True,
                  help="Every site with a saved setup (in parallel where their keys differ); "
                       "exit with the worst code.")
    @click.option("--dry-run", is_flag=True, help="Plan and print; write nothing.")
    @click.option("--confirm-archive", is_flag=True,
                  help="Archive more than the site's threshold in this run instead of holding "
                       "them (archives withheld after a bad roster are held all the same).")
    @click.option("--yes", "-y", is_flag=True, help="Non-interactive (cron): never prompt.")
    @click.option("--report", "report_path", type=click.Path(dir_okay=False), default=None,
                  help="Write every skipped, unreadable and still-open record with its reason "
                       "to this CSV file.")
    @click.option("--merge", "merges", multiple=True, metavar="KEEP=ABSORB",
                  help="After the sync, merge the account ABSORB into KEEP (emails; repeat).")
    @db_option
    @json_option
    def sync(site: str | None, all_sites: bool, dry_run: bool, confirm_archive: bool, yes: bool,
             report_path: str | None, merges: tuple[str, ...], db: str | None,
             as_json: bool) -> None:
        """Fetch, plan and apply with the saved setup.

        Exit 0: done, nothing new waits. 3: something new waits for a person (conflicts that
        were not open at the last sync, a hold). 1: an error (nothing half-applied)."""
        from core import jobs
        from core.alerts import after_run

        if all_sites == (site is not None):
            raise click.UsageError("name a SITE, or --all for every site")
        if report_path:
            _check_writable(report_path)
        pairs = []
        for m in merges:
            keep, sep, absorb = m.partition("=")
            if not sep or not keep.strip() or not absorb.strip():
                raise click.UsageError(f"--merge {m!r}: write KEEP=ABSORB (two emails)")
            pairs.append((keep.strip(), absorb.strip()))
        if all_sites and (pairs or report_path):
            raise click.UsageError("--merge and --report name one site: not with --all")

        with _store(db) as store:
            def report(result: service.SyncResult) -> None:
                if report_path:
                    rows = service.write_error_report(result.plan, report_path)
                    click.echo(f"error report: {rows} row(s) written to {report_path}", err=True)

            def one(s: object) -> object:
                return jobs.run_sync(store, s, dry_run=dry_run,  # type: ignore[arg-type]
                                     confirm_archive=confirm_archive, on_result=report)

            if all_sites:
                outcomes = asyncio.run(jobs.run_all(store, one))
            else:
                assert site is not None
                get_site(store, site)
                outcomes = [asyncio.run(one(site))]  # type: ignore[arg-type]
            warnings: list[str] = []
            for o in outcomes:
                if not dry_run:
                    warnings += after_run(store, o)
            if pairs and not dry_run and outcomes[0].code != jobs.ERROR:
                assert site is not None
                merged, errors, invites = Workspace(store).merge_and_invite(site, pairs)
                outcomes[0].data |= {"merged": merged, "mergeErrors": errors,
                                     "invites": len(invites)}
                outcomes[0].lines += [f"  {line}" for line in merged + errors]
                outcomes[0].lines.append(f"  {len(invites)} new accounts to invite")
            _print_outcomes(outcomes, as_json, all_sites)
            for w in warnings:
                click.echo(f"warning: {w}", err=True)
            finish(jobs.worst([o.code for o in outcomes]))

    def _print_outcomes(outcomes: Sequence[object], as_json: bool, many: bool) -> None:
        from core.jobs import ERROR, JobOutcome

        done = [o for o in outcomes if isinstance(o, JobOutcome)]
        if as_json:
            if many:
                print_json({"sites": [o.to_json() | {"exitCode": o.code} for o in done]})
            elif done[0].code == ERROR:
                print_json({"error": {"code": done[0].error_code, "message": done[0].message}})
            else:
                print_json(done[0].to_json())
            return
        for o in done:
            for line in o.lines:
                if o.code == ERROR and line.startswith(f"{o.site}: error: ") and not many:
                    click.echo(f"error: {o.message}", err=True)
                else:
                    click.echo(line)

    # --- conflicts and decisions -----------------------------------------------------------

    @cli.command("conflicts")
    @click.argument("site")
    @click.option("--new", "only_new", is_flag=True,
                  help="Only the conflicts that were not open at the last sync.")
    @db_option
    @json_option
    def conflicts(site: str, only_new: bool, db: str | None, as_json: bool) -> None:
        """Open conflicts (read from FACTS now) with the choices that resolve each."""
        with _store(db) as store:
            roster = asyncio.run(service.fetch(store, site))
            plan = service.make_plan(store, site, roster)
            found = [c for c in plan.open_conflicts if c.new or not only_new]
            if as_json:
                print_json({"site": site, "open": len(plan.open_conflicts),
                            "new": sum(1 for c in plan.open_conflicts if c.new),
                            "conflicts": [service.conflict_json(c) for c in found]})
                return
            if not found:
                click.echo(f"{site}: no {'new ' if only_new else ''}open conflict")
            for c in found:
                mark = " (new)" if c.new else ""
                click.echo(f"[{c.flag}] {c.key}{mark}: {c.message}")
                for p in c.people:
                    click.echo(f"    person {p.person_id}  {p.name}  <{p.email or 'no email'}>"
                               f"  families {', '.join(str(f) for f in p.family_ids)}")
                for choice in c.choices:
                    click.echo(f"    → {choice}")

    @cli.command("decisions")
    @click.argument("site")
    @db_option
    @json_option
    def decisions(site: str, db: str | None, as_json: bool) -> None:
        """The saved conflict decisions ('decide --clear' removes one)."""
        with _store(db) as store:
            saved = service.decisions(store, site)
            if as_json:
                print_json([_decision_json(d) for d in saved])
                return
            if not saved:
                click.echo(f"{site}: no saved decision")
            for d in saved:
                click.echo(f"{d.decided_at:%Y-%m-%d}  {service.decision_label(d)}")

    @cli.command("decide")
    @click.argument("site")
    @click.option("--email", default=None, help="The conflicted email.")
    @click.option("--person", "person_id", type=FACTS_ID, default=None, help="FACTS personId.")
    @click.option("--skip", is_flag=True, help="Do not import (everyone with the email, or the person).")
    @click.option("--use-email2", is_flag=True, help="Use email2 instead.")
    @click.option("--family", "family_id", type=FACTS_ID, default=None,
                  help="With --person alone: the family a multi-family person is imported under.")
    @click.option("--bulk", "bulk_key", type=click.Choice(list(BULK_KEYS)), default=None,
                  help="Decide every open conflict of a kind at once (reads FACTS; asks first).")
    @click.option("--undo", "undo_last", is_flag=True,
                  help="Take back the latest decision (a single one or a --bulk one).")
    @click.option("--clear", is_flag=True,
                  help="Remove the saved decision about --email or --person (asks first).")
    @click.option("--yes", "-y", is_flag=True, help="Non-interactive: do not ask.")
    @db_option
    def decide(site: str, email: str | None, person_id: int | None, skip: bool,
               use_email2: bool, family_id: int | None, bulk_key: str | None, undo_last: bool,
               clear: bool, yes: bool, db: str | None) -> None:
        """Save a conflict decision, reused by every later sync.

        \b
        --email E --person P     person P gets the email E; the others sharing it are skipped
        --email E --skip         skip everyone with email E (or --use-email2: use their email2)
        --person P --skip        skip person P (missing/invalid email; or --use-email2)
        --person P [--family F]  import a person who is in several families (under family F)
        --email E --clear        remove the saved decision about E (or --person P --clear)

        The email or person must be in the FACTS roster of the site (it is read to check).
        """
        if undo_last:
            with _store(db) as store:
                label = service.undo_decision(store, site)
                click.echo(f"taken back: {label}" if label else "no decision to take back")
            return
        if bulk_key is not None:
            _decide_bulk(site, bulk_key, yes, db)
            return
        if clear:
            if email is None and person_id is None:
                raise click.UsageError("--clear needs --email EMAIL or --person PERSONID")
            with _store(db) as store:
                about = f"email {email}" if email else f"person {person_id}"
                confirm(f"Remove the saved decision about {about}?", yes)
                gone = service.clear_decision(store, site, email=email, person_id=person_id)
                click.echo("removed: " + "; ".join(service.decision_label(d) for d in gone)
                           + f" ('factsync decide {site} --undo' puts it back)")
            return
        if sum((person_id is not None and email is not None, skip, use_email2)) > 1:
            raise click.UsageError("use one of --person, --skip and --use-email2")
        if email is None and person_id is None:
            raise click.UsageError("name the conflict with --email EMAIL (or --person PERSONID)")
        with _store(db) as store:
            roster = asyncio.run(service.fetch(store, site))
            service.check_in_roster(roster, email=email, person_id=person_id)
            d = service.decide(store, site, email=email, person_id=person_id, skip=skip,
                               use_email2=use_email2, family_id=family_id)
            click.echo(f"saved: {d.action} " + " ".join(
                x for x in (f"email {d.email}" if d.email else "",
                            f"person {d.person_id}" if d.person_id else "") if x))

    def _criteria_options(site: str, db: str | None, as_json: bool) -> None:
        with _store(db) as store:
            roster = asyncio.run(service.fetch(store, site))
            options = criteria_options(roster)
            groups = {"schools": options.schools, "statuses": options.statuses,
                      "grades": options.grades, "relationships": options.relationships}
            if as_json:
                print_json({name: [{"value": c.value, "label": c.label, "count": c.count,
                                    "detail": c.detail} for c in choices]
                            for name, choices in groups.items()}
                           | {"enrolledStudents": enrolled_count(roster)})
                return
            for name, choices in groups.items():
                if choices:
                    click.echo(f"{name}: " + ", ".join(f"{c.value} ({c.count})" for c in choices))
            click.echo(f"enrolled students in FACTS: {enrolled_count(roster)}")

    def _decide_bulk(site: str, key: str, yes: bool, db: str | None) -> None:
        with _store(db) as store:
            roster = asyncio.run(service.fetch(store, site))
            plan = service.make_plan(store, site, roster)
            bulk = next((b for b in bulk_decisions(plan.open_conflicts) if b.key == key), None)
            if bulk is None:
                click.echo(f"{site}: no open conflict for --bulk {key}")
                return
            confirm(f"{bulk.summary()}. Save?", yes)
            n = service.decide_bulk(store, site, bulk)
            click.echo(f"saved: {bulk.label} ({n} decisions; 'factsync decide {site} --undo' "
                       "takes them back)")

    @cli.group("family")
    def family_group() -> None:
        """Family groupings and per-family include/exclude overrides."""

    @family_group.command("group")
    @click.argument("site")
    @click.argument("family_ids", nargs=-1, type=FACTS_ID, required=True)
    @db_option
    def family_group_cmd(site: str, family_ids: tuple[int, ...], db: str | None) -> None:
        """Treat several FACTS family ids as one family on every sync."""
        if len(set(family_ids)) < 2:
            raise click.UsageError("name at least two different family ids")
        with _store(db) as store:
            doc = service.group_families(store, site, list(family_ids))
            click.echo("family groups: " + "; ".join(
                "+".join(str(f) for f in g) for g in doc.family_groups))

    @family_group.command("override")
    @click.argument("site")
    @click.argument("family_id", type=FACTS_ID)
    @click.option("--person", "person_id", type=FACTS_ID, default=None,
                  help="The parent (default: the whole family).")
    @click.option("--include/--exclude", "include", default=None)
    @click.option("--clear", is_flag=True, help="Remove the override.")
    @db_option
    def family_override(site: str, family_id: int, person_id: int | None, include: bool | None,
                        clear: bool, db: str | None) -> None:
        """Include or exclude a parent of a family (or the whole family)."""
        if clear == (include is not None):
            raise click.UsageError("use one of --include, --exclude and --clear")
        with _store(db) as store:
            service.set_override(store, site, family_id, person_id, None if clear else include)
            click.echo("saved")

    # --- accounts ----------------------------------------------------------------------------

    class _AccountsGroup(click.Group):
        """``accounts SITE`` lists; ``accounts add SITE ...`` adds."""

        def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
            if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
                args = ["list", *args]
            return super().parse_args(ctx, args)

    @cli.group("accounts", cls=_AccountsGroup)
    def accounts_group() -> None:
        """Site accounts: 'accounts SITE' lists them, 'accounts add SITE' adds one by hand."""

    @accounts_group.command("list")
    @click.argument("site")
    @db_option
    @json_option
    def accounts_list(site: str, db: str | None, as_json: bool) -> None:
        """Every account with its approved hours."""
        with _store(db) as store:
            views = acc.list_accounts(get_site(store, site))
            if as_json:
                print_json([v.to_json() for v in views])
                return
            for v in views:
                click.echo(
                    f"{v.email or '-':40} {v.first_name} {v.last_name}  {v.status}  {v.origin}"
                    f"  person={v.person_id or '-'}  family={v.family_key or '-'}  hours={v.hours:g}"
                    + ("" if v.invited else "  (not invited)")
                )

    @accounts_group.command("add")
    @click.argument("site")
    @click.option("--email", required=True)
    @click.option("--first", "first_name", required=True)
    @click.option("--last", "last_name", required=True)
    @db_option
    def accounts_add(site: str, email: str, first_name: str, last_name: str, db: str | None) -> None:
        """Add an account by hand (origin manual; a sync links it when FACTS has its email)."""
        with _store(db) as store:
            a = acc.add_account(get_site(store, site), email=email, first_name=first_name,
                                last_name=last_name)
            click.echo(f"account {a.email} added")

    @cli.command("merge")
    @click.argument("site")
    @click.option("--keep", required=True, help="Email of the account that stays.")
    @click.option("--absorb", required=True, help="Email of the account merged into it.")
    @click.option("--yes", "-y", is_flag=True, help="Non-interactive: do not ask.")
    @db_option
    def merge(site: str, keep: str, absorb: str, yes: bool, db: str | None) -> None:
        """Merge two accounts: hours move to the kept one, the other is archived (journaled)."""
        with _store(db) as store:
            s = get_site(store, site)
            acc.find_account(s, keep)
            acc.find_account(s, absorb)
            confirm(f"Merge {absorb} into {keep} (its hours move to {keep}; {absorb} is "
                    "archived)?", yes)
            run = acc.merge_accounts(store, s, keep=keep, absorb=absorb)
            click.echo(f"merged {absorb} into {keep} (run {run.number}; "
                       f"'factsync undo {site}' reverts)")

    # --- history, undo, invites ------------------------------------------------------------

    @cli.command("history")
    @click.argument("site")
    @click.option("--run", "run_id", type=ROW_ID, default=None,
                  help="Show the changes of the site's run N (runs are numbered per site).")
    @click.option("--events", "show_events", is_flag=True,
                  help="Who did what and when: runs, decisions, setup changes, groupings, "
                       "merges, undos, holds, the hour-syncing switch, forgets.")
    @click.option("--limit", type=click.IntRange(1), default=200, show_default=True,
                  help="With --events: how many of the newest to show.")
    @db_option
    @json_option
    def history(site: str, run_id: int | None, show_events: bool, limit: int, db: str | None,
                as_json: bool) -> None:
        """Runs of the site (newest first), or the changes of one run."""
        with _store(db) as store:
            s = get_site(store, site)
            if show_events:
                if run_id is not None:
                    raise click.UsageError("use one of --run and --events")
                _print_events(store, s, limit, as_json)
                return
            runs = service.history(store, s)
            if run_id is not None:
                found = service.run_id_of(store, s, run_id)
                if found is None:
                    fail(f"site {site!r} has no run {run_id}")
                    return
                changes = service.changes_of(store, found)
                if as_json:
                    print_json(changes)
                else:
                    for ch in changes:
                        who = (ch["after"] or ch["before"] or {}).get("email", "")
                        click.echo(f"{ch['action']:8} {who}  {ch['reason']}")
                return
            if as_json:
                print_json([r.to_json() for r in runs])
                return
            for r in runs:
                state = " (undone)" if r.undone_at else ""
                counts = ", ".join(f"{k} {v}" for k, v in r.counts.items() if isinstance(v, int) and v)
                click.echo(f"run {r.number}  {r.kind}{state}  {r.started_at:%Y-%m-%d %H:%M}  "
                           f"by {r.by}  {r.changes} changes  {counts}")

    def _print_events(store: Store, s: Site, limit: int, as_json: bool) -> None:
        from core.events import site_events
        from core.sync.text import clean_text

        found = site_events(store, s, limit=limit)
        if as_json:
            print_json([e.to_json() for e in found])
            return
        if not found:
            click.echo(f"site {s.name!r} has no events yet")
        for e in found:
            click.echo(f"{e.at:%Y-%m-%d %H:%M:%S}  {clean_text(e.who):24} {e.action:12} "
                       f"{clean_text(e.summary, 500)}")

    @cli.command("undo")
    @click.argument("site")
    @click.option("--yes", "-y", is_flag=True, help="Non-interactive: do not ask.")
    @click.option("--restore-setup/--keep-setup", "restore_setup", default=None,
                  help="When the run followed a setup change: put the earlier criteria and "
                       "parent rules back too (asked on a terminal; kept with --yes alone).")
    @db_option
    @json_option
    def undo(site: str, yes: bool, restore_setup: bool | None, db: str | None,
             as_json: bool) -> None:
        """Revert the latest sync or merge of the site (says which, and asks first)."""
        import sys

        with _store(db) as store:
            preview = service.undo_preview(store, site)
            if not as_json:
                click.echo(preview.words(), err=True)
            confirm(f"Revert run {preview.number}?", yes)
            if preview.setup_changes and restore_setup is None:
                changes = "; ".join(preview.setup_changes)
                restore_setup = (not yes and sys.stdin.isatty() and click.confirm(
                    f"Run {preview.number} followed a setup change ({changes}). Restore the "
                    "setup before it too, so the next sync does not archive the same people "
                    "again?", default=True, err=True))
            run = service.undo(store, site, restore_setup=bool(restore_setup))
            restored = bool(restore_setup and preview.setup_changes)
            if as_json:
                print_json({"reverted": preview.number, "undoRun": run.number,
                            "setupRestored": restored, **preview.to_json()})
                return
            click.echo(f"reverted run {preview.number} (the undo is run {run.number})"
                       + ("; the setup before it is back" if restored else ""))
            if preview.setup_changes and not restored:
                click.echo(f"  the setup of run {preview.number} stays "
                           f"({'; '.join(preview.setup_changes)}): the next sync plans with "
                           f"it ('factsync undo {site} --restore-setup' restores it with an undo)")

    @cli.command("invites")
    @click.argument("site")
    @click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None,
                  help="Write the not-yet-invited accounts to this CSV file.")
    @click.option("--mark-invited", is_flag=True, help="Mark the exported accounts invited.")
    @db_option
    @json_option
    def invites(site: str, csv_path: str | None, mark_invited: bool, db: str | None,
                as_json: bool) -> None:
        """New accounts not invited yet: email, names, family."""
        with _store(db) as store:
            s = get_site(store, site)
            pending = acc.pending_invites(s)
            if csv_path:
                Path(csv_path).write_text(acc.invites_csv(pending), encoding="utf-8")
            if as_json:
                print_json([dict(zip(acc.INVITE_COLUMNS, i.row(), strict=True)) for i in pending])
            elif not csv_path:
                click.echo(acc.invites_csv(pending), nl=False)
            marked = acc.mark_invited(s, pending) if mark_invited else 0
            if csv_path or mark_invited:
                click.echo(
                    f"{len(pending)} to invite" + (f", written to {csv_path}" if csv_path else "")
                    + (f", {marked} marked invited" if mark_invited else ""),
                    err=as_json,
                )


