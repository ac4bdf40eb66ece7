"""A school's FACTS records, exactly as the API returns them, and their JSON file form."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Record = dict[str, Any]

TABLES = (
    "people",
    "students",
    "parentStudent",
    "personFamily",
    "families",
    "schoolYears",
    "schoolConfigurations",
)


@dataclass
class School:
    """Every list the sandbox serves; each row is a FACTS-shaped dict (field names as FACTS spells them)."""

    people: list[Record] = field(default_factory=list)
    students: list[Record] = field(default_factory=list)
    parentStudent: list[Record] = field(default_factory=list)
    personFamily: list[Record] = field(default_factory=list)
    families: list[Record] = field(default_factory=list)
    schoolYears: list[Record] = field(default_factory=list)
    schoolConfigurations: list[Record] = field(default_factory=list)

    def to_json(self) -> dict[str, list[Record]]:
        return {name: list(getattr(self, name)) for name in TABLES}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> School:
        """Build from ``to_json()`` output; missing tables are empty, unknown keys are ignored.

        Rows are kept exactly as they are, unreadable ones included (a string where FACTS
        documents a number, a null key, even a row that is not an object): the sandbox serves
        what the file holds, as FACTS serves what its database holds."""
        if not isinstance(data, dict):
            raise ValueError("a school file holds a JSON object of tables")
        tables: dict[str, list[Record]] = {}
        for name in TABLES:
            rows = data.get(name, [])
            if not isinstance(rows, list):
                raise ValueError(f"school table {name!r} must be a list of records")
            tables[name] = rows
        return cls(**tables)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> School:
        with open(path, encoding="utf-8") as fh:
            return cls.from_json(json.load(fh))

    def save(self, path: str | os.PathLike[str]) -> None:
        write_json_atomic(Path(path), self.to_json())


def write_json_atomic(path: Path, value: Any) -> None:
    """Write to a temp file beside ``path`` and rename, so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(value, fh, ensure_ascii=False, separators=(",", ":"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
