"""Relationship text from FACTS (free text from the school's list) -> one of seven groups.

Schools spell the same relationship many ways ("Step mother", "MOTHER ", "Grand parent",
"Step-Dad"); the subset rules compare groups, never raw text.
"""

from __future__ import annotations

import re

from core.sync.setup import RelationshipGroup

_WORDS: dict[str, RelationshipGroup] = {
    "mother": "mother",
    "mom": "mother",
    "mum": "mother",
    "mommy": "mother",
    "mama": "mother",
    "birthmother": "mother",
    "biologicalmother": "mother",
    "adoptivemother": "mother",
    "father": "father",
    "dad": "father",
    "daddy": "father",
    "papa": "father",
    "birthfather": "father",
    "biologicalfather": "father",
    "adoptivefather": "father",
    "stepmother": "stepmother",
    "stepmom": "stepmother",
    "stepmum": "stepmother",
    "stepfather": "stepfather",
    "stepdad": "stepfather",
    "guardian": "guardian",
    "legalguardian": "guardian",
    "courtappointedguardian": "guardian",
    "fosterparent": "guardian",
    "fostermother": "guardian",
    "fosterfather": "guardian",
    "grandparent": "grandparent",
    "grandmother": "grandparent",
    "grandfather": "grandparent",
    "grandma": "grandparent",
    "grandpa": "grandparent",
    "granny": "grandparent",
    "greatgrandparent": "grandparent",
    "greatgrandmother": "grandparent",
    "greatgrandfather": "grandparent",
}

_NOT_LETTERS = re.compile(r"[^a-z]")


def normalize_relationship(
    text: str | None, *, grandparent_flag: bool = False
) -> RelationshipGroup:
    """Group a FACTS relationship; unknown or blank text is ``other`` (``grandparent`` if flagged)."""
    squashed = _NOT_LETTERS.sub("", (text or "").casefold())
    group = _WORDS.get(squashed)
    if group is None and grandparent_flag:
        return "grandparent"
    return group or "other"
