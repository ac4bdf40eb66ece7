"""Each FACTS failure maps to its typed error, is never retried when retrying cannot help, and
never carries a key in its message, its repr or a log line."""

from __future__ import annotations

import logging
import socket
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from core.facts import errors
from core.facts.client import FactsClient
from core.facts.models import PersonVM, StudentServiceHoursModel
from core.facts.plans import Plan
from core.facts.sandbox import Faults
from tests.test_client_support import (
    API_KEY,
    NONE_KEY,
    READ_KEY,
    SUB_KEY,
    assert_no_keys,
    make_client,
    make_sandbox,
)

HOURS = StudentServiceHoursModel(personId=0, hours=1.5, description="Book fair")


@pytest.fixture(autouse=True)
def _debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


@pytest.fixture(autouse=True)
def _no_key_in_logs(caplog: pytest.LogCaptureFixture):  # type: ignore[no-untyped-def]
    yield
    assert_no_keys(caplog.text)


async def test_bad_subscription_key() -> None:
    sb = make_sandbox()
    async with make_client(sb, sub_key="ffffffffffffffffffffffffffffffff") as client:
        with pytest.raises(errors.InvalidSubscriptionKey) as info:
            await client.get_page("/People")
    assert "invalid subscription key" in str(info.value)
    assert sb.count() == 1
    assert "ffffffffffffffffffffffffffffffff" not in repr(info.value)
    assert_no_keys(info.value)


async def test_missing_subscription_key() -> None:
    sb = make_sandbox()
    async with make_client(sb, sub_key="") as client:
        with pytest.raises(errors.InvalidSubscriptionKey):
            await client.get_page("/People")


async def test_bad_api_key_is_not_retried() -> None:
    sb = make_sandbox()
    bad = "not-the-school-key-0000000000"
    async with make_client(sb, api_key=bad) as client:
        with pytest.raises(errors.InvalidApiKey) as info:
            await client.get_page("/People")
    assert sb.count() == 1
    assert bad not in str(info.value) and bad not in repr(info.value)
    assert_no_keys(info.value)


async def test_people_scope_none_is_permission_missing() -> None:
    sb = make_sandbox()
    async with make_client(sb, api_key=NONE_KEY) as client:
        with pytest.raises(errors.PermissionMissing) as info:
            await client.get_page("/People")
        assert info.value.domain == "People"
        # Academics is readable with that key.
        await client.get_page("/SchoolYears")
    assert sb.count(path_prefix="/People") == 1
    assert_no_keys(info.value)


async def test_write_with_read_scope_is_read_only_and_not_retried() -> None:
    sb = make_sandbox()
    async with make_client(sb, api_key=READ_KEY) as client:
        with pytest.raises(errors.ReadOnly):
            await client.patch("/People/1", [{"op": "replace", "path": "/nickName", "value": "x"}])
        with pytest.raises(errors.ReadOnly):
            await client.post_service_hours("parents", HOURS)
        with pytest.raises(errors.ReadOnly):
            await client.put("/People/1", {"personId": 1})
    assert sb.count() == 3
    assert sb.count(status=403) == 3
    assert sb.service_hours("parents") == []


async def test_not_found_and_validation_are_not_retried() -> None:
    sb = make_sandbox()
    async with make_client(sb) as client:
        with pytest.raises(errors.NotFound) as nf:
            await client.patch(
                "/People/999999999", [{"op": "test", "path": "/personId", "value": 1}]
            )
        with pytest.raises(errors.NotFound):
            await client.get_page("/NoSuchRoute")
        with pytest.raises(errors.ValidationFailed) as vf:
            await client.post_service_hours("students", HOURS)  # person 0 does not exist
        with pytest.raises(errors.ValidationFailed):
            await client.post("/Students/ServiceHours", {"personId": 1, "hours": "lots"})
    assert sb.count() == 4
    assert "999999999" in str(nf.value)
    assert vf.value.status == 422 and "Person 0 does not exist" in str(vf.value)
    assert sb.service_hours("students") == []


async def test_unknown_filter_field_is_unknown_field() -> None:
    sb = make_sandbox()
    async with make_client(sb) as client:
        with pytest.raises(errors.UnknownField) as info:
            await client.get_page("/People", filters="shoeSize==12")
    assert info.value.field == "shoeSize"
    assert sb.count() == 1


async def test_quota_exhausted_says_until_when() -> None:
    sb = make_sandbox(plan=Plan("pro", per_second=10, per_minute=100, daily=2))
    async with make_client(sb) as client:
        await client.get_page("/People", page_size=1)
        await client.get_page("/People", page_size=1)
        before = datetime.now(UTC)
        with pytest.raises(errors.QuotaExhausted) as info:
            await client.get_page("/People", page_size=1)
    assert sb.count() == 3  # not retried
    # The sandbox's quota renews at midnight UTC and says so in Retry-After.
    midnight = (before + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    until = info.value.until
    assert until.tzinfo is not None
    assert abs((until - midnight).total_seconds()) < 5
    assert until.astimezone().strftime("%H:%M") in str(info.value)
    assert_no_keys(info.value)


async def test_unreachable_after_bounded_retries() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = FactsClient(
        f"http://127.0.0.1:{port}", SUB_KEY, API_KEY, max_retries=2, backoff_base=0.01
    )
    async with client:
        with pytest.raises(errors.FactsUnreachable) as info:
            await client.get_page("/People")
        # A POST may be retried too when the connection was never made: nothing was sent.
        with pytest.raises(errors.FactsUnreachable):
            await client.post("/Students/ServiceHours", {"personId": 1, "hours": 1})
    assert client.stats.requests == 6
    assert client.stats.retries == 4
    assert "ConnectError" in str(info.value)
    assert_no_keys(info.value, client)


def test_repr_masks_keys() -> None:
    client = FactsClient("https://api.factsmgt.com", SUB_KEY, API_KEY)
    assert_no_keys(client, str(client), repr(client), f"{client}")
    assert "api.factsmgt.com" in repr(client)


def test_unknown_plan_is_refused() -> None:
    with pytest.raises(ValueError):
        FactsClient("https://api.factsmgt.com", SUB_KEY, API_KEY, plan="gold")


# --- shapes the sandbox does not produce, through a mock transport ------------------------------


def mock_client(handler, **kwargs) -> FactsClient:  # type: ignore[no-untyped-def]
    kwargs.setdefault("backoff_base", 0.001)
    return FactsClient(
        "https://api.factsmgt.com",
        SUB_KEY,
        API_KEY,
        transport=httpx.MockTransport(handler),
        **kwargs,
    )


async def test_error_bodies_echoing_keys_are_scrubbed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400, json={"error": {"code": "BadRequest", "message": f"bad key {API_KEY} {SUB_KEY}"}}
        )

    async with mock_client(handler) as client:
        with pytest.raises(errors.ValidationFailed) as info:
            await client.get_page("/People")
    assert_no_keys(info.value)
    assert "bad key" in str(info.value)


async def test_post_is_not_retried_after_a_5xx() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(503, json={"statusCode": 503, "message": "backend busy"})

    async with mock_client(handler) as client:
        with pytest.raises(errors.OutcomeUnknown) as info:
            await client.post("/Parents/ServiceHours", {"personId": 1})
    assert len(calls) == 1
    assert info.value.status == 503
    assert_no_keys(info.value)


async def test_post_retries_429_and_pre_send_connect_errors() -> None:
    answers: list[httpx.Response | Exception] = [
        httpx.ConnectError("connection refused"),
        httpx.Response(429, headers={"Retry-After": "0"}, json={"statusCode": 429, "message": "x"}),
        httpx.Response(201),
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async with mock_client(handler) as client:
        response = await client.post("/Parents/ServiceHours", {"personId": 1})
    assert response.status_code == 201
    assert client.stats.retries == 2


async def test_get_gives_up_on_a_gateway_text_page_as_unreachable() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(502, text="Bad Gateway")

    async with mock_client(handler, max_retries=3) as client:
        with pytest.raises(errors.FactsUnreachable) as info:
            await client.get_page("/People")
    assert len(calls) == 4
    assert info.value.retryable
    assert str(info.value).startswith("FACTS is unreachable (GET /People answered HTTP 502")


async def test_quota_without_retry_after_resets_at_midnight_utc() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"statusCode": 403, "message": "Out of call volume quota."}
        return httpx.Response(403, json=body)

    async with mock_client(handler) as client:
        with pytest.raises(errors.QuotaExhausted) as info:
            await client.get_page("/People")
    until = info.value.until
    assert (until.hour, until.minute, until.second) == (0, 0, 0)
    assert until > datetime.now(UTC)


async def test_long_429_is_reported_not_waited() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "3600"}, json={"message": "slow down"})

    async with mock_client(handler) as client:
        with pytest.raises(errors.RateLimited) as info:
            await client.get_page("/People")
    assert info.value.retry_after == 3600
    assert client.stats.requests == 1


async def test_a_200_page_that_is_not_json_is_retried_then_unreachable() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, text="<html><title>Maintenance</title>back soon</html>")

    async with mock_client(handler, max_retries=2) as client:
        with pytest.raises(errors.FactsUnreachable) as info:
            await client.get_page("/People")
        with pytest.raises(errors.FactsUnreachable):
            await client.get_all("/People", PersonVM)
    assert len(calls) == 6
    assert "an HTML page: Maintenance" in str(info.value)


# --- both 500 body shapes, from the sandbox: live FACTS's stack trace and a clean ProblemDetails --

SHAPES = pytest.mark.parametrize("shape", ["stack-trace", "problem"])


@SHAPES
async def test_unknown_filter_or_sort_is_not_retried_whatever_the_body(shape: str) -> None:
    sb = make_sandbox(error_body=shape)
    async with make_client(sb) as client:
        with pytest.raises(errors.UnknownField) as by_filter:
            await client.get_page("/People", filters="shoeSize==12")
        with pytest.raises(errors.UnknownField) as by_sort:
            await client.get_page("/Families", sorts="-shoeSize")
    assert by_filter.value.field == by_sort.value.field == "shoeSize"
    assert sb.count() == 2 and sb.count(status=500) == 2
    assert "Sieve" not in str(by_filter.value)


@SHAPES
async def test_a_500_is_retried_then_a_server_error_of_one_line(shape: str) -> None:
    sb = make_sandbox(error_body=shape, faults=Faults(p500=1.0))
    async with make_client(sb, max_retries=2) as client:
        with pytest.raises(errors.ServerError) as info:
            await client.get_page("/People")
    assert sb.count() == 3
    assert "An unexpected error occurred." in str(info.value)
    assert "\n" not in str(info.value) and "   at " not in str(info.value)


@SHAPES
async def test_a_post_answered_500_is_outcome_unknown(shape: str) -> None:
    sb = make_sandbox(error_body=shape, faults=Faults(p500=1.0))
    async with make_client(sb) as client:
        with pytest.raises(errors.OutcomeUnknown):
            await client.post_service_hours("students", HOURS)
    assert sb.count() == 1


async def test_gateway_html_pages_are_retried_and_then_unreachable() -> None:
    sb = make_sandbox(faults=Faults(gateway_html=1.0))
    async with make_client(sb, max_retries=2) as client:
        with pytest.raises(errors.FactsUnreachable) as info:
            await client.get_page("/People")
    assert sb.count() == 3 and {r.status for r in sb.requests} <= {502, 503, 504}
    assert str(info.value).startswith("FACTS is unreachable")
    assert "an HTML page: 50" in str(info.value)
    assert_no_keys(info.value)


async def test_some_gateway_html_pages_do_not_stop_a_read() -> None:
    sb = make_sandbox(faults=Faults(gateway_html=0.3, seed=3))
    async with make_client(sb) as client:
        result = await client.get_all("/People", PersonVM, page_size=20)
    assert len(result.items) == len(sb.school.people)
    assert sb.count(status=502) + sb.count(status=503) + sb.count(status=504) > 0
