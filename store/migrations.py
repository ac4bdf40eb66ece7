"""Schema versions and the step runner that brings an older store up to date.

Each step runs in its own transaction and records its version, so an interrupted upgrade resumes
where it stopped instead of half-applying.
"""

from __future__ import annotations

from collections.abc import Callable

import peewee as pw

from store.models import ALL_MODELS, SchemaVersion


def _v1_initial(db: pw.Database) -> None:
    db.create_tables([m for m in ALL_MODELS if m is not SchemaVersion])


MIGRATIONS: list[tuple[int, Callable[[pw.Database], None]]] = [
    (1, _v1_initial),
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
