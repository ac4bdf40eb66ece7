"""Sieve ``Filters``/``Sorts`` strings for FACTS list GETs.

FACTS parses ``Filters`` with Sieve: terms ``name{op}value`` joined by ``,`` (AND), values joined by
``|`` (OR), and ``\\,`` / ``\\|`` escape those two characters inside a value. Building the strings
here keeps every caller's escaping right and every id batch small enough for one URL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime

BASE_OPERATORS = ("==", "!=", ">", "<", ">=", "<=", "@=", "_=", "!@=", "!_=")
OPERATORS = frozenset(BASE_OPERATORS + tuple(op + "*" for op in BASE_OPERATORS))
MAX_IDS_PER_FILTER = 150
"""Ids per ``field==1|2|3`` term: public clients use 100-200; 150 keeps URLs near 1.2 kB."""

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
# Sieve splits a term on its operators, so a value holding one would be cut short.
_OPERATOR_CHARS = re.compile(r"==|!=|<|>|@=|_=")

FilterValue = str | int | float | bool | date | datetime


def escape(value: FilterValue) -> str:
    """One value as Sieve reads it: ``,`` and ``|`` escaped; unrepresentable values refused."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, datetime | date):
        text = value.isoformat()
    else:
        text = str(value)
    if text != text.strip():
        raise ValueError(f"Sieve trims values; cannot filter on {text!r}")
    if text.endswith("\\"):
        raise ValueError(f"Sieve cannot express a value ending in a backslash: {text!r}")
    if _OPERATOR_CHARS.search(text):
        raise ValueError(f"Sieve cannot express a value containing an operator: {text!r}")
    return text.replace(",", "\\,").replace("|", "\\|")


def term(name: str, op: str, *values: FilterValue) -> str:
    """``name{op}v1|v2``: one AND-term whose values are OR-ed."""
    if not _NAME.match(name):
        raise ValueError(f"not a Sieve field name: {name!r}")
    if op not in OPERATORS:
        raise ValueError(f"not a Sieve operator: {op!r}")
    if not values:
        raise ValueError(f"filter on {name!r} needs at least one value")
    return f"{name}{op}{'|'.join(escape(v) for v in values)}"


def eq(name: str, *values: FilterValue) -> str:
    """``name==v1|v2``."""
    return term(name, "==", *values)


def join(*terms: str | Sequence[str] | None) -> str:
    """AND together terms (or lists of terms), skipping empty ones."""
    flat: list[str] = []
    for item in terms:
        if not item:
            continue
        if isinstance(item, str):
            flat.append(item)
        else:
            flat.extend(t for t in item if t)
    return ",".join(flat)


def sorts(*fields: str) -> str:
    """``a,-b``: a leading minus sorts descending."""
    for f in fields:
        if not _NAME.match(f.removeprefix("-")):
            raise ValueError(f"not a Sieve sort field: {f!r}")
    return ",".join(fields)


def id_batches(ids: Iterable[int], size: int = MAX_IDS_PER_FILTER) -> list[list[int]]:
    """Distinct ids, in first-seen order, cut into batches of at most ``size``."""
    if size < 1:
        raise ValueError("batch size must be at least 1")
    unique = list(dict.fromkeys(int(i) for i in ids))
    return [unique[i : i + size] for i in range(0, len(unique), size)]


def id_filters(field: str, ids: Iterable[int], size: int = MAX_IDS_PER_FILTER) -> list[str]:
    """One ``field==1|2|3`` term per batch of ids."""
    return [eq(field, *batch) for batch in id_batches(ids, size)]
