"""Schema versions and the step runner that brings an older store up to date.

Each step runs in its own transaction and records its version, so an interrupted upgrade resumes
where it stopped instead of half-applying.
"""

from __future__ import annotations

from collections.abc import Callable

import peewee as pw

from store.models import (
    ALL_MODELS,
    Connection,
    Outbox,
    RateBudget,
    RateSlot,
    SchemaVersion,
    Site,
)


def _v1_initial(db: pw.Database) -> None:
    db.create_tables([m for m in ALL_MODELS if m is not SchemaVersion], safe=True)


def add_missing_columns(db: pw.Database, model: type[pw.Model], *names: str) -> list[str]:
    """Add the model's fields ``names`` to its table where they are missing; returns those added.

    Steps after v1 use this (and ``create_tables(..., safe=True)`` for new tables) so that each is
    idempotent: v1 creates a fresh store from the current models, so a later step finds its columns
    already there, while an older store gets them added.
    """
    from playhouse.migrate import SchemaMigrator
    from playhouse.migrate import migrate as run

    table = model._meta.table_name
    present = {c.name for c in db.get_columns(table)}
    fields = [model._meta.fields[n] for n in names]
    missing = [f for f in fields if f.column_name not in present]
    if missing:
        migrator = SchemaMigrator.from_database(db)
        run(*(migrator.add_column(table, f.column_name, f) for f in missing))
    return [f.name for f in missing]


def _v2_run_numbers(db: pw.Database) -> None:
    """Runs are numbered per site: add ``sync_run.number`` and number the runs already there."""
    from store.models import SyncRun

    add_missing_columns(db, SyncRun, "number")
    unnumbered = SyncRun.select(SyncRun.site).where(SyncRun.number.is_null())
    for site_id in {run.__data__["site"] for run in unnumbered}:
        last = SyncRun.select(pw.fn.MAX(SyncRun.number)).where(SyncRun.site == site_id).scalar()
        n = int(last or 0)
        for run in (SyncRun.select(SyncRun.id).where((SyncRun.site == site_id)
                                                     & SyncRun.number.is_null())
                    .order_by(SyncRun.id)):
            n += 1
            SyncRun.update(number=n).where(SyncRun.id == run.id).execute()


def _v3_facts_witness(db: pw.Database) -> None:
    """Issue 9: the hour-syncing switch (sites that exist already keep syncing on), the daily
    quota pause, what each outbox row was sent as and what FACTS was found holding, and the
    shared rate budget."""
    if "hour_sync" in add_missing_columns(db, Site, "hour_sync"):
        Site.update(hour_sync=True).execute()
    add_missing_columns(db, Connection, "quota_until")
    add_missing_columns(db, Outbox, "sent_hours", "sent_date", "facts_duplicates", "mismatch")
    db.create_tables([RateBudget, RateSlot], safe=True)


def _v4_unattended(db: pw.Database) -> None:
    """Issue 10: site options, holds, job states, leases, daemon heartbeats, the setup of a run."""
    from store.models import Heartbeat, Hold, JobState, Lease, SiteOptions, SyncRun

    db.create_tables([SiteOptions, Hold, JobState, Lease, Heartbeat], safe=True)
    add_missing_columns(db, SyncRun, "setup")


def _v5_events(db: pw.Database) -> None:
    """Issue 11: the events of who did what. Runs recorded before get an event without an actor
    (shown as "unknown"), so the trail lists every run; a run that has an event keeps it."""
    from store.models import Event, SyncRun

    db.create_tables([Event], safe=True)
    with_event = Event.select(Event.run).where(Event.run.is_null(False))
    (Event.insert_from(
        SyncRun.select(SyncRun.site, SyncRun.started_at, SyncRun.kind, SyncRun.id, pw.Value(""))
        .where(SyncRun.id.not_in(with_event)),
        [Event.site, Event.at, Event.action, Event.run, Event.summary])
     .execute())


MIGRATIONS: list[tuple[int, Callable[[pw.Database], None]]] = [
    (1, _v1_initial),
    (2, _v2_run_numbers),
    (3, _v3_facts_witness),
    (4, _v4_unattended),
    (5, _v5_events),
]

LATEST_VERSION = MIGRATIONS[-1][0]


def current_version(db: pw.Database) -> int:
    db.create_tables([SchemaVersion])
    row = SchemaVersion.select(pw.fn.MAX(SchemaVersion.version)).scalar()
    return int(row or 0)


def migrate(db: pw.Database) -> int:
    """Apply every step newer than the store's version; returns the version reached."""
    version = current_version(db)
    for step_version, step in MIGRATIONS:
        if step_version <= version:
            continue
        with db.atomic():
            step(db)
            SchemaVersion.create(version=step_version)
        version = step_version
    return version
