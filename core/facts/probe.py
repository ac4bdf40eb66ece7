"""Find out what a school's FACTS key may do, without creating or changing anything.

No FACTS endpoint reports a key's scopes, so factsync asks: a one-row GET proves read, and a PATCH
of person 0 (which does not exist) answers 403 without Write and 404 with it. The patch is a JSON
Patch ``test`` op, which changes nothing even if such a person existed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from core.facts.client import FactsClient
from core.facts.errors import NotFound, PermissionMissing, ReadOnly, ValidationFailed

WRITE_PROBE_PATH = "/People/0"
WRITE_PROBE_OPS = [{"op": "test", "path": "/personId", "value": 0}]


@dataclass(frozen=True)
class Permissions:
    people_read: bool
    people_write: bool
    academics_read: bool
    checked_at: datetime

    @property
    def write_back_possible(self) -> bool:
        return self.people_write


async def _can_read(client: FactsClient, path: str) -> bool:
    try:
        await client.get_page(path, page_size=1)
    except PermissionMissing:
        return False
    return True


async def _can_write_people(client: FactsClient) -> bool:
    try:
        await client.patch(WRITE_PROBE_PATH, WRITE_PROBE_OPS)
    except ReadOnly:
        return False
    except (NotFound, ValidationFailed):
        # Past the scope check: FACTS looked for the person (or the body), so the key may write.
        return True
    return True


async def probe_permissions(client: FactsClient) -> Permissions:
    """People read/write and Academics read; bad keys raise InvalidApiKey/InvalidSubscriptionKey."""
    people_read = await _can_read(client, "/People")
    # Scopes are None < Read < Write: without read there is no write to probe for.
    people_write = await _can_write_people(client) if people_read else False
    academics_read = await _can_read(client, "/SchoolYears")
    return Permissions(people_read, people_write, academics_read, datetime.now(UTC))
