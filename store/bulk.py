"""Bulk writes of plain tuples: one prepared statement each, through sqlite3's ``executemany``.

peewee's ``insert_many``/``update`` convert every value through its field and build SQL per row or
per statement; a sync writing 25,000 accounts spends most of its time there. These take rows that
are already in their column form (str, int, float, None, datetime) in the order of ``fields``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import peewee as pw

Row = Sequence[Any]


def _columns(model: type[pw.Model], fields: Sequence[str]) -> list[str]:
    return [f'"{model._meta.fields[name].column_name}"' for name in fields]


def insert_rows(model: type[pw.Model], fields: Sequence[str], rows: Iterable[Row]) -> None:
    """INSERT each row (the values of ``fields``, in order)."""
    columns = _columns(model, fields)
    sql = (
        f'INSERT INTO "{model._meta.table_name}" ({", ".join(columns)}) '
        f'VALUES ({", ".join("?" for _ in columns)})'
    )
    model._meta.database.cursor().executemany(sql, rows)


def update_rows(model: type[pw.Model], fields: Sequence[str], rows: Iterable[Row]) -> None:
    """UPDATE by id: each row holds the new values of ``fields``, then the row's id."""
    sets = ", ".join(f"{c} = ?" for c in _columns(model, fields))
    sql = f'UPDATE "{model._meta.table_name}" SET {sets} WHERE "id" = ?'
    model._meta.database.cursor().executemany(sql, rows)


def rows_in(
    model: type[pw.Model],
    fields: Sequence[str],
    field: str,
    values: Sequence[Any],
    chunk: int = 500,
    **equal: Any,
) -> list[tuple[Any, ...]]:
    """The id and the values of ``fields`` (as stored) of each row whose ``field`` is one of
    ``values`` and whose other fields equal ``equal`` (in no set order; one query per chunk)."""
    columns = ", ".join(['"id"', *_columns(model, fields)])
    column = _columns(model, [field])[0]
    where = "".join(f" AND {c} = ?" for c in _columns(model, list(equal)))
    db, out = model._meta.database, []
    for i in range(0, len(values), chunk):
        part = tuple(values[i : i + chunk])
        sql = (
            f'SELECT {columns} FROM "{model._meta.table_name}" '
            f'WHERE {column} IN ({", ".join("?" for _ in part)}){where}'
        )
        out += db.execute_sql(sql, (*part, *equal.values())).fetchall()
    return out


def next_id(model: type[pw.Model]) -> int:
    """The id SQLite gives the next row: one more than the largest (ids are assigned up front,
    inside the writing transaction, so no row has to be read back to learn its id)."""
    largest = model.select(pw.fn.MAX(model._meta.primary_key)).scalar()
    return int(largest or 0) + 1
