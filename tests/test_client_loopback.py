"""The client over real loopback HTTP (serve_in_thread): paging, errors, writes, dropped sockets."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from core.facts.client import FactsClient
from core.facts.errors import InvalidApiKey, OutcomeUnknown, ReadOnly
from core.facts.models import PersonVM, StudentServiceHoursModel
from core.facts.probe import probe_permissions
from core.facts.sandbox import Faults, LoopbackServer, Sandbox, serve_in_thread
from tests.test_client_support import API_KEY, READ_KEY, SUB_KEY, assert_no_keys, make_sandbox


@pytest.fixture
def served() -> Iterator[tuple[Sandbox, LoopbackServer]]:
    sb = make_sandbox(families=60)
    with serve_in_thread(sb, port=0) as server:
        yield sb, server


def client_for(server: LoopbackServer, key: str = API_KEY) -> FactsClient:
    return FactsClient(server.base_url, SUB_KEY, key, plan="enterprise", backoff_base=0.01)


def row(person: int, note: str) -> StudentServiceHoursModel:
    return StudentServiceHoursModel(
        personId=person, hours=1.25, date=datetime(2024, 9, 1, tzinfo=UTC), note=note
    )


async def test_paging_and_batches_over_http(served: tuple[Sandbox, LoopbackServer]) -> None:
    sb, server = served
    ids = [int(p["personId"]) for p in sb.school.people]
    async with client_for(server) as client:
        paged = await client.get_all("/People", PersonVM, page_size=60)
        batched = await client.get_by_ids("/People", PersonVM, "personId", ids)
    assert sorted(p.personId for p in paged.items) == sorted(ids)
    assert sorted(p.personId for p in batched) == sorted(ids)
    pages = -(-len(ids) // 60)
    assert sb.count() == pages + -(-len(ids) // 150)
    assert sb.count(status=429) == 0


async def test_probe_and_errors_over_http(served: tuple[Sandbox, LoopbackServer]) -> None:
    sb, server = served
    async with client_for(server) as client:
        perms = await probe_permissions(client)
    assert (perms.people_read, perms.people_write, perms.academics_read) == (True, True, True)
    async with client_for(server, READ_KEY) as client:
        with pytest.raises(ReadOnly) as read_only:
            await client.post_service_hours("parents", row(1, "x"))
    async with client_for(server, "bogus") as client:
        with pytest.raises(InvalidApiKey) as bad_key:
            await client.get_page("/People")
    assert_no_keys(read_only.value, bad_key.value, client)


async def test_write_and_drop_after_commit_over_http(
    served: tuple[Sandbox, LoopbackServer],
) -> None:
    sb, server = served
    person = int(sb.school.people[0]["personId"])
    async with client_for(server) as client:
        await client.post_service_hours("parents", row(person, "factsync:1"))
        sb.config.faults = Faults(drop_after_commit=1.0)
        with pytest.raises(OutcomeUnknown):
            await client.post_service_hours("parents", row(person, "factsync:2"))
        sb.config.faults = Faults()
        found = await client.list_service_hours("parents", [person])
    assert sorted(r.note or "" for r in found) == ["factsync:1", "factsync:2"]
    assert sb.count(method="POST") == 2


async def test_pages_read_are_freed_at_once_not_left_to_the_cyclic_collector(
    served: tuple[Sandbox, LoopbackServer],
) -> None:
    """A live tenant's pages are 25 MB each: one held until a full collection per page piled up
    hundreds of MB during a fetch (httpx's response <-> stream cycle)."""
    _, server = served

    def responses() -> int:
        return sum(1 for o in gc.get_objects() if isinstance(o, httpx.Response))

    async with client_for(server) as client:
        gc.collect()
        before = responses()
        gc.disable()
        try:
            for page in (1, 2, 3):
                body = await client.get_page("/People", page=page, page_size=20)
                assert body["results"]
            del body
            left = responses() - before
        finally:
            gc.enable()
    assert left == 0
