"""The Sieve filter/sort grammar FACTS list endpoints accept, evaluated over plain dict rows.

Follows Biarity/Sieve as FACTS runs it: terms joined by ``,`` are ANDed; ``|`` between values ORs
them (also for negated operators, as Sieve does); values are trimmed; ``\\,`` and ``\\|`` escape;
a ``*`` suffix makes an operator case-insensitive; a row whose field is null never matches a
non-null value; ``null`` as a value matches nulls. Unknown names raise :class:`UnknownField`,
which the handler answers with FACTS's 500 ``"<name> not found."``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal, cast

Kind = Literal["int", "str", "date", "float", "bool"]
Row = dict[str, Any]
Predicate = Callable[[Row], bool]

# Longest first, so "!@=*" is not read as "!@=" followed by a "*" value.
OPERATORS = (
    "!@=*", "!_=*", "!_-=*", "_-=*", "!=*", "==*", "@=*", "_=*",
    "!_-=", "_-=", "!@=", "!_=", "==", "!=", ">=", "<=", "@=", "_=", ">", "<",
)  # fmt: skip
_OP_RE = re.compile("|".join(re.escape(op) for op in OPERATORS))
_SPLIT_COMMA = re.compile(r"(?<!\\),")
_SPLIT_PIPE = re.compile(r"(?<!\\)\|")


class UnknownField(Exception):
    """A filter or sort named a field the endpoint does not expose."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} not found.")
        self.name = name


class BadValue(Exception):
    """A filter value cannot be converted to the field's type (FACTS answers 500)."""


@dataclass(frozen=True)
class FieldSpec:
    """One filterable/sortable column: its public name, type and where it sits in a row."""

    name: str
    kind: Kind
    path: tuple[str, ...]

    def get(self, row: Row) -> Any:
        if not isinstance(row, dict):
            return None
        value: Any = row
        for part in self.path:
            if not isinstance(value, dict):
                return None
            value = value.get(part)
        return value


def fields(**kinds: str) -> dict[str, FieldSpec]:
    """``fields(personId="int", **{"school.status": "str"})`` -> lookup by lower-cased name."""
    out: dict[str, FieldSpec] = {}
    for name, kind in kinds.items():
        if kind not in ("int", "str", "date", "float", "bool"):
            raise ValueError(f"unknown field kind {kind!r}")
        out[name.lower()] = FieldSpec(name, cast(Kind, kind), tuple(name.split(".")))
    return out


@dataclass(frozen=True)
class Term:
    field: FieldSpec
    op: str
    values: tuple[str, ...]


def _unescape(text: str) -> str:
    return text.replace("\\,", ",").replace("\\|", "|")


def parse_filters(text: str, spec: dict[str, FieldSpec]) -> list[Term]:
    terms: list[Term] = []
    for raw in _SPLIT_COMMA.split(text or ""):
        if not raw.strip():
            continue
        match = _OP_RE.search(raw)
        if match is None:
            name, op, value_text = raw.strip(), "==", None
        else:
            name, op, value_text = raw[: match.start()].strip(), match.group(0), raw[match.end() :]
        field = spec.get(name.lower())
        if field is None:
            raise UnknownField(name)
        if value_text is None:
            continue  # Sieve ignores a term without an operator
        values = tuple(_unescape(v.strip()) for v in _SPLIT_PIPE.split(value_text))
        terms.append(Term(field, op, values))
    return terms


@lru_cache(maxsize=65536)
def parse_date(text: str) -> datetime | None:
    """Parse ``2024-05-01`` or full ISO (``Z``/offset or naive = UTC) to naive UTC; None if not a date."""
    text = text.strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _convert(field: FieldSpec, value: str) -> Any:
    if field.kind == "int":
        try:
            return int(value)
        except ValueError:
            raise BadValue(f"Invalid value '{value}' for {field.name}.") from None
    if field.kind == "float":
        try:
            return float(value)
        except ValueError:
            raise BadValue(f"Invalid value '{value}' for {field.name}.") from None
    if field.kind == "date":
        parsed = parse_date(value)
        if parsed is None:
            raise BadValue(f"Invalid value '{value}' for {field.name}.")
        return parsed
    if field.kind == "bool":
        if value.strip().lower() not in ("true", "false"):
            raise BadValue(f"Invalid value '{value}' for {field.name}.")
        return value.strip().lower() == "true"
    return value


def _row_value(field: FieldSpec, row: Row) -> Any:
    value = field.get(row)
    if value is None:
        return None
    if field.kind == "date":
        return parse_date(str(value)) if isinstance(value, str) else None
    return value


def _compare(op: str, have: Any, want: Any) -> bool:
    if op == "==":
        return bool(have == want)
    if op == ">":
        return bool(have > want)
    if op == "<":
        return bool(have < want)
    if op == ">=":
        return bool(have >= want)
    if op == "<=":
        return bool(have <= want)
    if op == "@=":
        return str(want) in str(have)
    if op == "_=":
        return str(have).startswith(str(want))
    if op == "_-=":
        return str(have).endswith(str(want))
    raise ValueError(op)


def _term_predicate(term: Term) -> Predicate:
    op = term.op
    insensitive = op.endswith("*")
    if insensitive:
        op = op[:-1]
    negated = op.startswith("!")
    base = {"!=": "==", "!@=": "@=", "!_=": "_=", "!_-=": "_-="}.get(op, op)
    field = term.field
    # Contains/starts/ends compare text, whatever the column type; the rest compare typed values.
    text_op = base in ("@=", "_=", "_-=")
    fold = insensitive and (field.kind == "str" or text_op)
    wants: list[Any] = []
    for raw in term.values:
        if raw.lower() == "null":
            wants.append(None)
        elif text_op:
            wants.append(raw.upper() if fold else raw)
        else:
            value = _convert(field, raw)
            wants.append(value.upper() if fold and isinstance(value, str) else value)

    def have_of(row: Row) -> Any:
        have = field.get(row) if text_op else _row_value(field, row)
        if have is None:
            return None
        if text_op:
            have = str(have)
        if fold and isinstance(have, str):
            have = have.upper()
        return have

    # Fast path: plain equality on many values becomes a set lookup (the 200-id batches).
    if base == "==" and None not in wants:
        want_set = frozenset(wants)

        def eq(row: Row) -> bool:
            have = have_of(row)
            if have is None:
                return False
            try:
                return (have in want_set) != negated
            except TypeError:  # an object or list where FACTS has a value: matches nothing
                return negated

        return eq

    def match(row: Row) -> bool:
        have = have_of(row)
        for want in wants:
            if want is None:
                hit = (have is None) != negated
            elif have is None:
                hit = False
            else:
                try:
                    hit = _compare(base, have, want) != negated
                except TypeError:
                    hit = False
            if hit:
                return True
        return False

    return match


def compile_filters(text: str, spec: dict[str, FieldSpec]) -> Predicate | None:
    """One predicate for the whole ``Filters`` string, or None when it filters nothing."""
    predicates = [_term_predicate(term) for term in parse_filters(text, spec)]
    if not predicates:
        return None
    if len(predicates) == 1:
        return predicates[0]
    return lambda row: all(p(row) for p in predicates)


def apply_filters(rows: Iterable[Row], text: str, spec: dict[str, FieldSpec]) -> list[Row]:
    predicate = compile_filters(text, spec)
    if predicate is None:
        return list(rows)
    return [row for row in rows if predicate(row)]


def parse_sorts(text: str, spec: dict[str, FieldSpec]) -> list[tuple[FieldSpec, bool]]:
    """``"a,-b"`` -> [(a, ascending), (b, descending)]."""
    out: list[tuple[FieldSpec, bool]] = []
    for raw in (text or "").split(","):
        name = raw.strip()
        if not name:
            continue
        descending = name.startswith("-")
        if descending:
            name = name[1:].strip()
        field = spec.get(name.lower())
        if field is None:
            raise UnknownField(name)
        out.append((field, descending))
    return out


def apply_sorts(rows: list[Row], sorts: Sequence[tuple[FieldSpec, bool]]) -> list[Row]:
    """Stable multi-key sort; nulls first ascending (SQL Server's order)."""
    result = list(rows)
    for field, descending in reversed(sorts):

        def key(row: Row, field: FieldSpec = field) -> tuple[int, Any]:
            value = _row_value(field, row)
            if value is None:
                return (0, 0)
            if isinstance(value, str):
                return (2, value.casefold())  # text after numbers: a file may mix them
            if isinstance(value, bool | int | float):
                return (1, value)
            return (3, str(value))

        result.sort(key=key, reverse=descending)
    return result
