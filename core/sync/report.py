"""The error report: every record a sync left out or kept waiting, with its reason, as CSV.

``factsync sync SITE --report FILE.csv`` and the wizard's *Export error report* both call
:func:`write_error_report` with the plan they show; the file goes through the one CSV writer.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from core.csvfile import write_csv
from core.sync.plan import SyncPlan

REPORT_COLUMNS = ("kind", "personId", "name", "email", "familyId", "reason")


def error_report_rows(plan: SyncPlan) -> Iterator[tuple[Any, ...]]:
    """Unreadable FACTS records, held and skipped accounts, open conflicts, withheld archives."""
    for u in plan.unreadable:
        yield (
            "unreadable",
            u.person_ids[0] if u.person_ids else "",
            "",
            "",
            u.family_ids[0] if u.family_ids else "",
            str(u),
        )
    for kind, items in (
        ("held", plan.held),
        ("skipped", plan.of("skip")),
        ("conflict", plan.of("conflict")),
        ("withheld", plan.withheld),
    ):
        for it in items:
            yield (kind, it.person_id or "", it.name, it.email or "", it.family_key or "", it.reason)
    if plan.stop:
        yield ("stopped", "", "", "", "", plan.stop)


def write_error_report(plan: SyncPlan, path: str | os.PathLike[str]) -> int:
    """Write the report to ``path`` (whole or not at all); returns the rows written."""
    return write_csv(path, REPORT_COLUMNS, error_report_rows(plan))
