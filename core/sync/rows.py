"""The site accounts as the pure planner sees them: plain frozen rows, read in one query."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AccountRow:
    id: int
    email: str | None
    email_key: str | None
    first_name: str
    last_name: str
    role: str
    status: str
    origin: str
    person_id: int | None
    family_key: str | None
    grade: str | None
    archived_reason: str | None = None
    invited: bool = False
    hours: float = 0.0
    """Approved hours total, shown next to duplicate suggestions."""

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or (self.email or f"account {self.id}")

    @property
    def active(self) -> bool:
        return self.status == "active"
