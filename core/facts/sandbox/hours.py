"""Service-hours rows written to the sandbox, optionally kept in a JSON file across restarts.

FACTS has no DELETE, so rows only ever grow or change; ids come from one counter shared by the
Students and Parents resources.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from core.facts.sandbox.school import Record, write_json_atomic

Kind = Literal["students", "parents"]
KINDS: tuple[Kind, ...] = ("students", "parents")


class HoursStore:
    """Rows per kind, in insertion order, plus an index by serviceHoursId."""

    def __init__(self, path: str | None = None) -> None:
        self.path = Path(path) if path else None
        self.rows: dict[Kind, list[Record]] = {"students": [], "parents": []}
        self.by_id: dict[Kind, dict[int, Record]] = {"students": {}, "parents": {}}
        self.next_id = 1
        if self.path is not None and self.path.exists():
            self._load(self.path)

    def _load(self, path: Path) -> None:
        data: Any = json.loads(path.read_text(encoding="utf-8") or "{}")
        for kind in KINDS:
            for row in data.get(kind, []):
                self.rows[kind].append(row)
                self.by_id[kind][int(row["serviceHoursId"])] = row
        ids = [int(r["serviceHoursId"]) for kind in KINDS for r in self.rows[kind]]
        self.next_id = max([int(data.get("nextId", 1)), *(i + 1 for i in ids)])

    def save(self) -> None:
        if self.path is not None:
            write_json_atomic(
                self.path,
                {
                    "nextId": self.next_id,
                    "students": self.rows["students"],
                    "parents": self.rows["parents"],
                },
            )

    def add(self, kind: Kind, row: Record) -> Record:
        row = dict(row, serviceHoursId=self.next_id)
        self.next_id += 1
        self.rows[kind].append(row)
        self.by_id[kind][row["serviceHoursId"]] = row
        self.save()
        return row

    def replace(self, kind: Kind, row: Record) -> Record:
        current = self.by_id[kind][row["serviceHoursId"]]
        current.clear()
        current.update(row)
        self.save()
        return current

    def get(self, kind: Kind, hours_id: int) -> Record | None:
        return self.by_id[kind].get(hours_id)
