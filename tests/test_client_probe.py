"""The permission probe reports what a key may do and changes nothing in FACTS."""

from __future__ import annotations

import copy

import pytest

from core.facts.errors import InvalidApiKey, InvalidSubscriptionKey
from core.facts.probe import probe_permissions
from core.facts.sandbox import Sandbox
from tests.test_client_support import API_KEY, NONE_KEY, READ_KEY, make_client, make_sandbox

PEOPLE_ONLY = "people-only-key-77aa"


def sandbox() -> Sandbox:
    sb = make_sandbox()
    sb.config.api_keys[PEOPLE_ONLY] = {"People": "Write"}
    return sb


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (API_KEY, (True, True, True)),
        (READ_KEY, (True, False, True)),
        (NONE_KEY, (False, False, True)),
        (PEOPLE_ONLY, (True, True, False)),
    ],
)
async def test_probe_reports_scopes_and_changes_nothing(
    key: str, expected: tuple[bool, bool, bool]
) -> None:
    sb = sandbox()
    before = copy.deepcopy(sb.school.to_json())
    async with make_client(sb, api_key=key) as client:
        perms = await probe_permissions(client)
    assert (perms.people_read, perms.people_write, perms.academics_read) == expected
    assert perms.write_back_possible is expected[1]
    assert perms.checked_at.tzinfo is not None
    assert sb.school.to_json() == before
    assert sb.service_hours("students") == sb.service_hours("parents") == []
    assert sb.count(method="POST") == sb.count(method="PUT") == 0
    assert all(r.status in (200, 403, 404) for r in sb.requests)
    assert sb.count() <= 3


async def test_write_probe_patches_a_person_that_does_not_exist() -> None:
    sb = sandbox()
    async with make_client(sb) as client:
        await probe_permissions(client)
    patches = [r for r in sb.requests if r.method == "PATCH"]
    assert [(r.path, r.status) for r in patches] == [("/People/0", 404)]
    assert b'"op": "test"' in patches[0].body


async def test_probe_with_bad_keys_raises() -> None:
    sb = sandbox()
    async with make_client(sb, api_key="wrong") as client:
        with pytest.raises(InvalidApiKey):
            await probe_permissions(client)
    async with make_client(sb, sub_key="wrong") as client:
        with pytest.raises(InvalidSubscriptionKey):
            await probe_permissions(client)
