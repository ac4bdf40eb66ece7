"""``--fault-bad-records P``: make a fraction of each table's rows unreadable, as real FACTS data can be.

``round(P * len(table))`` rows of each table, drawn with a seeded RNG, are changed in one of the
ways of issue 8 §2, taken in turn from the table's list below (so every way shows up):

=====================  ===========================================================================
table                  ways
=====================  ===========================================================================
people                 ``wrong-type`` (``email`` a list), ``bad-key`` (``personId`` "X…"),
                       ``null-key`` (``personId`` null)
students               ``wrong-type`` (``school`` a string), ``bad-key`` (``studentId`` "X…")
parentStudent          ``wrong-type`` (``parentID`` "abc"), ``null-required`` (``studentID`` null),
                       ``orphan`` (``parentID`` of a person who does not exist)
personFamily           ``wrong-type`` (``familyOrder`` "first"), ``bad-key`` (``personId`` "X…")
families               ``wrong-type`` (``familyName`` a list), ``bad-key`` (``familyID`` "X…")
schoolYears            ``bad-date`` (``firstDay`` "2025-02-30"), ``bad-key`` (``yearId`` "X…")
schoolConfigurations   ``wrong-type`` (``schoolName`` an object)
=====================  ===========================================================================

The changed rows are copies: the school passed in is left as it was.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from core.facts.sandbox.school import TABLES, Record, School

Way = tuple[str, Callable[[Record], None]]
ORPHAN_PERSON_ID = 2_000_000_000


def _set(name: str, value: Callable[[Any], Any]) -> Callable[[Record], None]:
    def change(row: Record) -> None:
        row[name] = value(row.get(name))

    return change


WAYS: dict[str, tuple[Way, ...]] = {
    "people": (
        ("wrong-type", _set("email", lambda v: [v])),
        ("bad-key", _set("personId", lambda v: f"X{v}")),
        ("null-key", _set("personId", lambda v: None)),
    ),
    "students": (
        ("wrong-type", _set("school", lambda v: "Enrolled")),
        ("bad-key", _set("studentId", lambda v: f"X{v}")),
    ),
    "parentStudent": (
        ("wrong-type", _set("parentID", lambda v: "abc")),
        ("null-required", _set("studentID", lambda v: None)),
        ("orphan", _set("parentID", lambda v: ORPHAN_PERSON_ID)),
    ),
    "personFamily": (
        ("wrong-type", _set("familyOrder", lambda v: "first")),
        ("bad-key", _set("personId", lambda v: f"X{v}")),
    ),
    "families": (
        ("wrong-type", _set("familyName", lambda v: [v])),
        ("bad-key", _set("familyID", lambda v: f"X{v}")),
    ),
    "schoolYears": (
        ("bad-date", _set("firstDay", lambda v: "2025-02-30")),
        ("bad-key", _set("yearId", lambda v: f"X{v}")),
    ),
    "schoolConfigurations": (("wrong-type", _set("schoolName", lambda v: {"name": v})),),
}


def spoil(school: School, fraction: float, seed: int = 1) -> tuple[School, list[tuple[str, int, str]]]:
    """A copy of ``school`` with ``fraction`` of each table's rows unreadable, and which ones."""
    if fraction <= 0:
        return school, []
    rng = random.Random(f"factsync-bad-records:{seed}")
    changes: dict[str, list[Record]] = {}
    spoiled: list[tuple[str, int, str]] = []
    for table in TABLES:
        rows = list(getattr(school, table))
        count = min(len(rows), round(fraction * len(rows)))
        if not count:
            continue
        ways = WAYS[table]
        for n, index in enumerate(sorted(rng.sample(range(len(rows)), count))):
            name, change = ways[n % len(ways)]
            row = dict(rows[index])
            change(row)
            rows[index] = row
            spoiled.append((table, index, name))
        changes[table] = rows
    return replace(school, **changes), spoiled
