"""The archive threshold of a site: more archives than this in one run wait for a person.

Plain data that imports nothing of factsync, so Home (which must open fast) and the pure planner both use
it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ArchiveThreshold:
    """More archives than this in one run are held for a person: a share, or a count."""

    share: float | None = 0.20
    count: int | None = None

    def limit(self, synced: int) -> float:
        """The most archives a run may make without a confirmation."""
        if self.count is not None:
            return float(self.count)
        return synced * (self.share if self.share is not None else 0.20)

    @property
    def text(self) -> str:
        if self.count is not None:
            return str(self.count)
        return f"{(self.share or 0) * 100:g}%"


def parse_threshold(text: str) -> ArchiveThreshold:
    """``20%`` (a share of the synced accounts) or ``50`` (a number of accounts)."""
    raw = text.strip()
    try:
        if raw.endswith("%"):
            share = float(raw[:-1]) / 100
            if not 0 <= share <= 1:
                raise ValueError
            return ArchiveThreshold(share=share)
        count = int(raw)
        if count < 0:
            raise ValueError
        return ArchiveThreshold(share=None, count=count)
    except ValueError:
        raise ValueError(
            f"archive threshold {text!r}: write a share such as 20% or a number of accounts "
            "such as 50"
        ) from None
