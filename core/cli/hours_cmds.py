"""Hours and write-back commands: ``factsync hours ...`` and ``writeback``.

``factsync hours SITE`` lists a site's entries while ``factsync hours add SITE ...`` (and the other
subcommands) change them: :class:`HoursGroup` reads a first word that is not a subcommand as the
SITE of the listing.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import click

from core import hours as hrs
from core.cli.common import (
    EXIT_ERROR,
    EXIT_NEEDS_DECISION,
    EXIT_OK,
    EXIT_USAGE,
    ROW_ID,
    cli_hint,
    confirm,
    db_option,
    fail,
    finish,
    json_option,
    print_json,
)
from core.facts.errors import FactsError
from core.sites import SiteError, get_site, require_advanced
from core.writeback import outbox
from core.writeback.worker import RunReport, WriteBackWorker
from store import Store, open_store


@contextlib.contextmanager
def _store(db: str | None) -> Iterator[Store]:
    store = open_store(db)
    try:
        yield store
    except (SiteError, FactsError) as err:
        fail(str(err) + cli_hint(err))
    finally:
        store.close()


def _default_approver() -> str:
    from core.actor import current_actor

    return current_actor().name


def approver_option(func: Any) -> Any:
    return click.option(
        "--by",
        "by",
        envvar="FACTSYNC_APPROVER",
        default=None,
        help="Who approves (sent to FACTS as verifiedBy); default $FACTSYNC_APPROVER, else the "
        "user name (or the 'factsync serve' login).",
    )(func)


def _date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return hrs.parse_date(value)
    except ValueError as err:
        raise click.BadParameter(str(err)) from None


def _entry_line(v: hrs.EntryView) -> str:
    wb = f"  [{v.writeback}]" if v.writeback else ""
    sid = f" #{v.service_hours_id}" if v.service_hours_id else ""
    return (
        f"{v.id:>6}  {v.date.isoformat()}  {v.hours:>6g} h  {v.status:<8}  "
        f"{v.email or '-'}  {v.description}{wb}{sid}"
    )


class DefaultGroup(click.Group):
    """A group whose first word, when it is not a subcommand, goes to ``default_command``:
    ``factsync hours SITE`` lists, ``factsync writeback SITE`` sends."""

    default_command = "list"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


class HoursGroup(DefaultGroup):
    default_command = "list"


class WritebackGroup(DefaultGroup):
    default_command = "run"


def _forecast_line(store: Store, site: Any, candidates: list[Any], not_sent: int) -> str:
    """How many would be new to FACTS, already there, or conflicting (reads FACTS)."""
    from core.writeback.witness import forecast

    try:
        result = asyncio.run(forecast(store, site, candidates, not_sent=not_sent))
    except (SiteError, FactsError) as err:
        return f"FACTS could not be read to compare ({err})"
    return "in FACTS: " + result.sentence()


def register(cli: click.Group) -> None:
    """Add this module's commands to ``cli``."""

    @cli.group("hours", cls=HoursGroup)
    def hours_group() -> None:
        """Volunteer hours: 'factsync hours SITE' lists them; subcommands change them."""

    @hours_group.command("list")
    @click.argument("site")
    @click.option("--status", type=click.Choice(list(hrs.STATUSES)), default=None)
    @click.option("--all", "include_deleted", is_flag=True, help="Include deleted entries.")
    @db_option
    @json_option
    def hours_list(
        site: str, status: str | None, include_deleted: bool, db: str | None, as_json: bool
    ) -> None:
        """List the site's hour entries (newest first) with their write-back state."""
        with _store(db) as store:
            views = hrs.list_entries(
                get_site(store, site), status=status, include_deleted=include_deleted
            )
            if as_json:
                print_json([v.to_json() for v in views])
                return
            if not views:
                click.echo("no hour entries")
            for v in views:
                click.echo(_entry_line(v))

    @hours_group.command("add")
    @click.argument("site")
    @click.option("--email", required=True, help="The account's email.")
    @click.option("--date", "day", required=True, help="YYYY-MM-DD (not in the future).")
    @click.option("--hours", required=True, help="Hours (from 0.01 to 24).")
    @click.option("--description", required=True, help="What was done (at most 255 characters).")
    @click.option("--verifier", default=None, help="Who verified the hours on site.")
    @click.option("--approved", is_flag=True, help="Approve at once (queues it for FACTS).")
    @approver_option
    @db_option
    @json_option
    def hours_add(
        site: str,
        email: str,
        day: str,
        hours: str,
        description: str,
        verifier: str | None,
        approved: bool,
        by: str | None,
        db: str | None,
        as_json: bool,
    ) -> None:
        """Add an hour entry for an account."""
        with _store(db) as store:
            s = get_site(store, site)
            entry = hrs.add_entry(
                s,
                email=email,
                day=day,
                hours=hours,
                description=description,
                verifier=verifier,
                approved_by=(by or _default_approver()) if approved else None,
            )
            view = next(v for v in hrs.list_entries(s) if v.id == entry.id)
            if as_json:
                print_json(view.to_json())
                return
            click.echo(
                f"entry {entry.id} added: {view.email}, {view.hours:g} h on {view.date}, "
                f"{view.status}" + _queue_note(view)
            )

    def _queue_note(view: hrs.EntryView) -> str:
        if view.writeback == "queued":
            return " (queued for FACTS)"
        if view.writeback == "waiting-link":
            return " (written to FACTS once the account is linked by a sync)"
        return ""

    def _status_command(name: str, action: str) -> None:
        @hours_group.command(name)
        @click.argument("site")
        @click.argument("ids", nargs=-1, type=ROW_ID, required=True)
        @approver_option
        @db_option
        def command(site: str, ids: tuple[int, ...], by: str | None, db: str | None) -> None:
            with _store(db) as store:
                s = get_site(store, site)
                if action == "approve":
                    entries = hrs.approve(s, ids, by=by or _default_approver())
                elif action == "reject":
                    entries = hrs.reject(s, ids)
                else:
                    entries = hrs.unapprove(s, ids)
                views = {v.id: v for v in hrs.list_entries(s)}
                for e in entries:
                    click.echo(f"entry {e.id}: {e.status}" + _queue_note(views[e.id]))

        command.__doc__ = {
            "approve": "Approve entries: those of linked accounts are queued for FACTS.",
            "reject": "Reject entries: one already in FACTS is withdrawn there (hours 0).",
            "unapprove": "Set entries back to pending: one already in FACTS is withdrawn there.",
        }[action]

    for name in ("approve", "reject", "unapprove"):
        _status_command(name, name)

    @hours_group.command("edit")
    @click.argument("site")
    @click.argument("entry_id", type=ROW_ID)
    @click.option("--date", "day", default=None)
    @click.option("--hours", default=None)
    @click.option("--description", default=None)
    @db_option
    def hours_edit(
        site: str,
        entry_id: int,
        day: str | None,
        hours: str | None,
        description: str | None,
        db: str | None,
    ) -> None:
        """Change an entry; if FACTS already holds it, the change is sent there (PATCH)."""
        if day is None and hours is None and description is None:
            fail("nothing to change: give --date, --hours or --description", EXIT_USAGE)
        with _store(db) as store:
            s = get_site(store, site)
            e = hrs.edit_entry(s, entry_id, day=day, hours=hours, description=description)
            view = next(v for v in hrs.list_entries(s) if v.id == e.id)
            click.echo(f"entry {e.id} changed" + _queue_note(view))

    @hours_group.command("delete")
    @click.argument("site")
    @click.argument("entry_id", type=ROW_ID)
    @db_option
    def hours_delete(site: str, entry_id: int, db: str | None) -> None:
        """Delete an entry; one already in FACTS is withdrawn there (hours 0, noted)."""
        with _store(db) as store:
            s = get_site(store, site)
            e = hrs.delete_entry(s, entry_id)
            click.echo(f"entry {e.id} deleted")

    @hours_group.command("import")
    @click.argument("site")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
    @click.option("--strict", is_flag=True,
                  help="Import nothing if any line is bad (the default; kept for scripts).")
    @click.option("--skip-bad-lines", is_flag=True,
                  help="Import the good lines of a file that has bad ones (reported, skipped).")
    @click.option("--dry-run", is_flag=True,
                  help="Import nothing: say how many rows are new, already in FACTS, or "
                  "conflicting with FACTS.")
    @approver_option
    @db_option
    @json_option
    def hours_import(
        site: str, file: str, strict: bool, skip_bad_lines: bool, dry_run: bool,
        by: str | None, db: str | None,
        as_json: bool,
    ) -> None:
        """Import entries from CSV (columns email,date,hours,description,status).

        Every malformed line (unbalanced quotes, over-long fields) and bad row is reported by line
        number; a file with any imports nothing unless --skip-bad-lines. Good rows are imported in
        one transaction. Rows identical to an existing entry are skipped. Exit 1 if any was bad.
        """
        if strict and skip_bad_lines:
            raise click.UsageError("use one of --strict and --skip-bad-lines")
        if file == "-":
            text = sys.stdin.read()
        else:
            try:
                text = Path(file).read_text(encoding="utf-8-sig")
            except UnicodeDecodeError:
                fail(f"{file} is not UTF-8 text (save the spreadsheet as CSV UTF-8)")
        with _store(db) as store:
            s = get_site(store, site)
            result = hrs.import_csv(
                s, text, approved_by=by or _default_approver(), skip_bad_lines=skip_bad_lines,
                dry_run=dry_run,
            )
            if dry_run:
                _import_dry_run(store, s, file, result, as_json)
                return
            if as_json:
                print_json(result.to_json())
            else:
                for err in result.errors:
                    click.echo(f"{file}: {err}", err=True)
                for dup in result.duplicates:
                    click.echo(f"{file}: {dup}")
                if result.stopped:
                    click.echo(
                        f"nothing imported: {len(result.errors)} bad line(s)"
                        + ("" if skip_bad_lines else
                           "; fix them, or import the good lines with --skip-bad-lines")
                    )
                else:
                    click.echo(
                        f"imported {len(result.imported)} entries "
                        f"({result.enqueued} queued for FACTS)"
                        + (f", {len(result.errors)} bad row(s) skipped" if result.errors else "")
                        + (f", {len(result.duplicates)} already on the site" if result.duplicates else "")
                    )
            if result.errors:
                raise SystemExit(EXIT_ERROR)

    def _import_dry_run(
        store: Store, s: Any, file: str, result: hrs.ImportResult, as_json: bool
    ) -> None:
        from core.writeback.witness import forecast

        candidates, not_sent = hrs.import_candidates(s, result.planned)
        try:
            facts = asyncio.run(forecast(store, s, candidates, not_sent=not_sent))
        except (SiteError, FactsError) as problem:
            fail(f"nothing imported; FACTS could not be read to compare: {problem}")
            return
        if as_json:
            print_json({**result.to_json(), "dryRun": True, "wouldImport": len(result.planned),
                        "facts": facts.to_json()})
        else:
            for err in result.errors:
                click.echo(f"{file}: {err}", err=True)
            click.echo(f"would import {len(result.planned)} entries (nothing imported): "
                       f"{facts.sentence()}; {not_sent} not for FACTS (not approved, or the "
                       "account not linked)"
                       + (f"; {len(result.errors)} bad row(s)" if result.errors else "")
                       + (f"; {len(result.duplicates)} already on the site"
                          if result.duplicates else ""))
            for c in facts.conflicts:
                click.echo(f"  conflict: {c.email} {c.date}: {c.hours:g} h here, FACTS row "
                           f"{c.service_hours_id} holds {c.facts_hours} h")
        if result.errors:
            raise SystemExit(EXIT_ERROR)

    @hours_group.command("syncing")
    @click.argument("site")
    @click.argument("state", type=click.Choice(["on", "off"]))
    @click.option("--yes", "-y", is_flag=True, help="Turn it on without asking (cron, scripts).")
    @db_option
    @json_option
    def hours_syncing(site: str, state: str, yes: bool, db: str | None, as_json: bool) -> None:
        """Turn hour syncing on or off for a site. Turning it on first shows what would happen:
        entries to send, entries already in FACTS (adopted, not sent), conflicts."""
        from core.writeback.switch import hour_sync_preview, set_hour_sync

        with _store(db) as store:
            s = get_site(store, site)
            if state == "off":
                changed = set_hour_sync(store, s, False)
                if as_json:
                    print_json({"site": s.name, "hourSync": "off", "changed": changed})
                else:
                    click.echo(f"hour syncing is off for site {s.name!r}"
                               + ("" if changed else " (it was already)"))
                return
            require_advanced(s)
            preview = asyncio.run(hour_sync_preview(store, s))
            if not as_json:
                click.echo(f"turning hour syncing on for site {s.name!r}: {preview.sentence()}")
                for c in preview.forecast.conflicts:
                    click.echo(f"  conflict: entry {c.entry_id} {c.email} {c.date}: {c.hours:g} h "
                               f"here, FACTS row {c.service_hours_id} holds {c.facts_hours} h")
            if not preview.on:
                if as_json and not yes:
                    print_json({**preview.to_json(), "changed": False})
                confirm("Turn hour syncing on?", yes)
            changed = set_hour_sync(store, s, True)
            if as_json:
                print_json({**preview.to_json(), "hourSync": "on", "changed": changed})
            else:
                click.echo(f"hour syncing is on; 'factsync writeback {s.name}' sends the entries")

    @hours_group.command("pull")
    @click.argument("site")
    @click.option("--since", default=None, help="Only FACTS rows dated on or after YYYY-MM-DD.")
    @click.option("--dry-run", is_flag=True, help="Say what would be imported; change nothing.")
    @db_option
    @json_option
    def hours_pull(
        site: str, since: str | None, dry_run: bool, db: str | None, as_json: bool
    ) -> None:
        """Import the FACTS ServiceHours of every linked person as approved entries tied to
        their FACTS row (never sent again). A second pull adds nothing."""
        from core.writeback.pull import pull

        with _store(db) as store:
            s = get_site(store, site)
            require_advanced(s)
            result = asyncio.run(pull(store, s, since=_date(since), dry_run=dry_run))
            if as_json:
                print_json(result.to_json())
                return
            verb = "would import" if dry_run else "imported"
            click.echo(
                f"read {result.rows_read} FACTS rows: {verb} {len(result.imported)} as approved "
                f"entries, {result.tied} recognised as entries already queued here, "
                f"{result.already} already the site's, {len(result.skipped)} skipped"
            )
            for sk in result.skipped:
                click.echo(f"  skipped FACTS row {sk.service_hours_id} (person {sk.person_id}): "
                           f"{sk.reason}")

    @hours_group.command("backfill")
    @click.argument("site")
    @click.option("--since", default=None, help="Only entries dated on or after YYYY-MM-DD.")
    @click.option("--dry-run", is_flag=True, help="List what would be sent; change nothing.")
    @db_option
    @json_option
    def hours_backfill(
        site: str, since: str | None, dry_run: bool, db: str | None, as_json: bool
    ) -> None:
        """Queue approved hours of linked accounts that FACTS never got (e.g. approved before
        the site was connected or the account linked). Lists them first."""
        with _store(db) as store:
            s = get_site(store, site)
            require_advanced(s)
            views = hrs.backfill_candidates(s, since=_date(since))
            queued = 0 if dry_run or not views else hrs.backfill(s, [v.id for v in views])
            if as_json:
                body: dict[str, Any] = {
                    "dryRun": dry_run,
                    "entries": [v.to_json() for v in views],
                    "hours": round(sum(v.hours for v in views), 2),
                    "enqueued": queued,
                }
                if dry_run and views:
                    from core.writeback.witness import forecast

                    candidates = hrs.backfill_forecast_candidates(s, views)
                    body["facts"] = asyncio.run(forecast(store, s, candidates)).to_json()
                print_json(body)
                return
            total = sum(v.hours for v in views)
            verb = "would send" if dry_run else "sending"
            click.echo(f"{verb} {len(views)} entries ({total:g} h) to FACTS:")
            for v in views:
                click.echo(_entry_line(v))
            if dry_run and views:
                candidates = hrs.backfill_forecast_candidates(s, views)
                click.echo(_forecast_line(store, s, candidates, 0))
            if not dry_run and views:
                click.echo(f"queued {queued}; 'factsync writeback {site}' sends them")

    # --- writeback ---------------------------------------------------------------------------

    @cli.group("writeback", cls=WritebackGroup)
    def writeback_group() -> None:
        """Write-back to FACTS: 'factsync writeback SITE' sends; 'writeback audit SITE' checks."""

    @writeback_group.command("audit")
    @click.argument("site")
    @click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None,
                  help="Also write each difference to this CSV file.")
    @db_option
    @json_option
    def writeback_audit(site: str, csv_path: str | None, db: str | None, as_json: bool) -> None:
        """Compare the site's entries with every FACTS ServiceHours row of its people: missing
        in FACTS, FACTS rows with a factsync reference but no entry, duplicates, hours or date
        that differ, withdrawn entries still counted. Exit 0 when they agree, 3 when not.
        Changes nothing."""
        from core.writeback.audit import audit

        with _store(db) as store:
            s = get_site(store, site)
            require_advanced(s)
            report = asyncio.run(audit(store, s))
            if csv_path:
                Path(csv_path).write_text(report.csv_text(), encoding="utf-8")
            if as_json:
                print_json(report.to_json())
            else:
                click.echo(
                    f"audit of {s.name!r}: {report.rows_read} FACTS rows read, "
                    f"{report.entries_checked} entries checked, {report.agreeing} agree, "
                    f"{report.queued} still queued, {report.facts_only} FACTS rows entered "
                    "outside factsync"
                )
                for d in report.differences:
                    click.echo(f"  {d.line()}")
                click.echo("the store and FACTS agree" if report.agrees
                           else f"{len(report.differences)} difference(s)")
            if not report.agrees:
                raise SystemExit(EXIT_NEEDS_DECISION)

    @writeback_group.command("run")
    @click.argument("site", required=False)
    @click.option("--all", "all_sites", is_flag=True,
                  help="Every site with a saved setup (in parallel where their keys differ); "
                       "exit with the worst code.")
    @click.option("--follow", is_flag=True, help="Keep running: send new approvals as they come.")
    @click.option("--failed", "show_failed", is_flag=True, help="List entries FACTS never took.")
    @click.option("--retry-failed", is_flag=True, help="Queue failed entries again, then send.")
    @db_option
    @json_option
    def writeback(
        site: str | None,
        all_sites: bool,
        follow: bool,
        show_failed: bool,
        retry_failed: bool,
        db: str | None,
        as_json: bool,
    ) -> None:
        """Send approved hours to FACTS (once, or continuously with --follow).

        Exit 1: FACTS could not be reached (within --timeout) or write-back is off; 3: entries
        were given up after repeated failures."""
        from core import jobs
        from core.alerts import after_run

        if all_sites == (site is not None):
            raise click.UsageError("name a SITE, or --all for every site")
        if all_sites and (follow or show_failed or retry_failed):
            raise click.UsageError("--all sends once: not with --follow, --failed, --retry-failed")
        with _store(db) as store:
            if all_sites:
                outcomes = asyncio.run(jobs.run_all(
                    store, lambda s: jobs.run_writeback(store, s)))
                warnings = [w for o in outcomes for w in after_run(store, o)]
                if as_json:
                    print_json({"sites": [o.to_json() | {"exitCode": o.code} for o in outcomes]})
                else:
                    for o in outcomes:
                        for line in o.lines:
                            click.echo(line)
                for w in warnings:
                    click.echo(f"warning: {w}", err=True)
                finish(jobs.worst([o.code for o in outcomes]))
            assert site is not None
            s = get_site(store, site)
            require_advanced(s)
            if show_failed:
                rows = outbox.failed_rows(s)
                if as_json:
                    print_json([r.to_json() for r in rows])
                    return
                if not rows:
                    click.echo("no failed entries")
                for r in rows:
                    click.echo(
                        f"entry {r.entry_id}  {r.email or '-'}  {r.date}  {r.hours:g} h  "
                        f"{r.operation}, {r.attempts} attempts: {r.last_error or '-'}"
                    )
                return
            if retry_failed:
                n = outbox.requeue_failed(s)
                if not as_json:
                    click.echo(f"{n} failed entries queued again")
            if follow:
                report = asyncio.run(_run_worker(store, s, follow=True, quiet=as_json))
            else:
                report = asyncio.run(jobs.drain(store, s))
            note = jobs.paused_note(s)
            outcome = jobs.writeback_outcome(site, report, note)
            warnings = [] if follow else after_run(store, outcome)
            if as_json:
                print_json(outcome.to_json())
            else:
                click.echo(_report_line(report))
                for line in report.duplicates:
                    click.echo(f"  ! {line}")
                if report.disabled and outcome.code == jobs.OK:
                    click.echo(report.disabled)  # hour syncing switched off on purpose
                if note:
                    click.echo(note)
                if outcome.code == jobs.ERROR:
                    click.echo(f"error: {outcome.message}", err=True)
                elif outcome.code == jobs.ATTENTION:
                    click.echo(f"attention: {outcome.message}", err=True)
            for w in warnings:
                click.echo(f"warning: {w}", err=True)
            if follow and report.disabled and not report.error:
                finish(EXIT_OK)
            finish(outcome.code)


def _report_line(r: RunReport) -> str:
    from core.jobs import writeback_line

    return writeback_line(r)


async def _run_worker(store: Store, site: Any, *, follow: bool, quiet: bool) -> RunReport:
    """Run the worker until done (or, with ``follow``, until SIGINT/SIGTERM)."""
    from core.connection import check_connection, open_client

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()

    def on_signal() -> None:
        if stop.is_set() and main is not None:
            main.cancel()  # a second Ctrl-C: stop now (unknown outcomes are looked up next run)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal)

    last_printed = [0.0]
    last_written = [0]
    last_disabled = [""]

    def on_progress(report: RunReport) -> None:
        if quiet or not follow:
            return
        now = time.monotonic()
        if report.disabled and report.disabled != last_disabled[0]:
            click.echo(f"write-back is off: {report.disabled} (waiting for Write permission)")
            last_disabled[0] = report.disabled
        if report.written != last_written[0] and now - last_printed[0] >= 1.0:
            click.echo(_report_line(report))
            last_printed[0], last_written[0] = now, report.written

    client = open_client(store, site)
    async with client:
        worker = WriteBackWorker(
            store,
            site,
            client,
            recheck=lambda: check_connection(store, site),
            on_progress=on_progress,
        )
        if follow:
            if not quiet:
                click.echo(f"write-back for {site.name}: following (Ctrl-C stops)")
            return await worker.follow(stop)
        return await worker.drain(stop)
