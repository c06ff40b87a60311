"""Rate limits: 429 with `Retry-After` past a credential's burst, and for an address after repeated 401s."""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from scheduler_api import create_app
from scheduler_api.limits import Rate, RateLimits
from scheduler_domain import Role
from tests.api.conftest import World, assert_problem, create_task

TASKS = "/api/v1/tasks"
ClientOf = Callable[[RateLimits], Awaitable[httpx.AsyncClient]]
UNLIMITED = Rate(per_second=0, burst=0)
#: Three requests at once, then one every 2 s.
THREE_THEN_ONE_PER_2S = Rate(per_second=0.5, burst=3)
#: Three 401s at once, then one every 10 s.
THREE_FAILURES_THEN_ONE_PER_10S = Rate(per_second=0.1, burst=3)


@pytest.fixture
def limited(world: World, monkeypatch: pytest.MonkeyPatch) -> Callable[[RateLimits], Litestar]:
    """Build the world's app with `limits`, timed by the world's fake clock."""

    def build(limits: RateLimits) -> Litestar:
        with_limits = functools.partial(
            create_app, rate_limits=limits, monotonic=lambda: world.clock.now().timestamp()
        )
        monkeypatch.setattr(sys.modules[type(world).__module__], "create_app", with_limits)
        return world.app()

    return build


@pytest.fixture
async def client_of(
    limited: Callable[[RateLimits], Litestar],
) -> AsyncIterator[ClientOf]:
    """Open a client (no credential of its own) of an app built with the limits given."""
    async with contextlib.AsyncExitStack() as clients:

        async def client(limits: RateLimits) -> httpx.AsyncClient:
            return await clients.enter_async_context(AsyncTestClient(app=limited(limits)))

        yield client


def key_header(secret: str) -> dict[str, str]:
    return {"X-API-Key": secret}


def assert_rate_limited(response: httpx.Response, retry_after: int, says: str) -> dict[str, object]:
    body = assert_problem(response, 429)
    assert body["title"] == "Too Many Requests"
    assert says in str(body["detail"])
    assert f"retry after {retry_after} s" in str(body["detail"])
    assert response.headers["Retry-After"] == str(retry_after)
    return body


async def test_a_credential_past_its_burst_is_answered_429_with_retry_after(
    world: World, client_of: ClientOf
) -> None:
    client = await client_of(RateLimits(per_credential=THREE_THEN_ONE_PER_2S, auth_failures=UNLIMITED))
    admin = key_header(await world.key(Role.ADMIN))

    answers = [(await client.get(TASKS, headers=admin)).status_code for _ in range(3)]
    refused = await client.get(TASKS, headers=admin)

    assert answers == [200, 200, 200]
    body = assert_rate_limited(refused, retry_after=2, says="this credential sent more requests")
    assert body["instance"] == TASKS


async def test_the_bucket_refills_at_the_configured_rate(world: World, client_of: ClientOf) -> None:
    client = await client_of(RateLimits(per_credential=THREE_THEN_ONE_PER_2S, auth_failures=UNLIMITED))
    admin = key_header(await world.key(Role.ADMIN))
    for _ in range(3):
        assert (await client.get(TASKS, headers=admin)).status_code == 200

    world.clock.advance(1.5)  # three quarters of a token: still none
    assert_rate_limited(await client.get(TASKS, headers=admin), retry_after=1, says="credential")
    world.clock.advance(0.5)
    assert (await client.get(TASKS, headers=admin)).status_code == 200
    assert (await client.get(TASKS, headers=admin)).status_code == 429


async def test_other_credentials_keep_their_own_allowance_and_a_key_is_one_however_sent(
    world: World, client_of: ClientOf
) -> None:
    client = await client_of(RateLimits(per_credential=THREE_THEN_ONE_PER_2S, auth_failures=UNLIMITED))
    busy, other = await world.key(Role.ADMIN), await world.key(Role.READONLY)
    for _ in range(3):
        assert (await client.get(TASKS, headers=key_header(busy))).status_code == 200

    assert (await client.get(TASKS, headers=key_header(other))).status_code == 200
    assert (await client.get(TASKS, headers={"Authorization": f"Bearer {busy}"})).status_code == 429


async def test_a_refused_write_is_not_done_nor_audited(world: World, client_of: ClientOf) -> None:
    client = await client_of(RateLimits(per_credential=Rate(per_second=1, burst=1), auth_failures=UNLIMITED))
    client.headers["X-API-Key"] = await world.key(Role.ADMIN)
    await create_task(client, name="first")
    entries = len(world.audit_rows.rows)

    refused = await client.post(TASKS, json={"name": "second", "command": "echo hi"})

    assert_rate_limited(refused, retry_after=1, says="credential")
    assert [task.name for task in world.task_rows.rows.values()] == ["first"]
    assert len(world.audit_rows.rows) == entries


async def test_repeated_401s_from_an_address_refuse_it_even_a_valid_key_until_refilled(
    world: World, client_of: ClientOf
) -> None:
    client = await client_of(
        RateLimits(per_credential=UNLIMITED, auth_failures=THREE_FAILURES_THEN_ONE_PER_10S)
    )
    admin = key_header(await world.key(Role.ADMIN))

    guesses = [(await client.get(TASKS, headers=key_header(f"guess-{n}"))).status_code for n in range(2)]
    no_credential = await client.get(TASKS)  # fails authentication as well
    refused = await client.get(TASKS, headers=admin)

    assert guesses == [401, 401]
    assert no_credential.status_code == 401
    assert_rate_limited(refused, retry_after=10, says="failed authentication")
    world.clock.advance(9)
    assert (await client.get(TASKS, headers=admin)).status_code == 429
    world.clock.advance(1)
    assert (await client.get(TASKS, headers=admin)).status_code == 200
    assert (await client.get(TASKS, headers=key_header("one-guess-more"))).status_code == 401
    assert (await client.get(TASKS, headers=admin)).status_code == 429


async def test_successes_cost_an_address_nothing_and_other_addresses_are_not_refused(
    world: World, limited: Callable[[RateLimits], Litestar]
) -> None:
    app = limited(RateLimits(per_credential=UNLIMITED, auth_failures=THREE_FAILURES_THEN_ONE_PER_10S))
    admin = key_header(await world.key(Role.ADMIN))

    async def from_address(address: str, headers: dict[str, str]) -> int:
        transport = httpx.ASGITransport(app=app, client=(address, 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            return (await client.get(TASKS, headers=headers)).status_code

    assert [await from_address("10.0.0.1", admin) for _ in range(5)] == [200] * 5
    assert [await from_address("10.0.0.1", key_header("guess")) for _ in range(3)] == [401] * 3
    assert await from_address("10.0.0.1", admin) == 429
    assert await from_address("10.0.0.1", {**admin, "X-Forwarded-For": "10.0.0.9"}) == 429  # not trusted
    assert await from_address("10.0.0.2", admin) == 200


async def test_probes_metrics_and_docs_are_never_limited(world: World, client_of: ClientOf) -> None:
    one_only = Rate(per_second=0.001, burst=1)
    client = await client_of(RateLimits(per_credential=one_only, auth_failures=one_only))
    admin = key_header(await world.key(Role.ADMIN))
    assert (await client.get(TASKS, headers=admin)).status_code == 200
    assert (await client.get(TASKS, headers=admin)).status_code == 429
    assert (await client.get(TASKS, headers=key_header("guess"))).status_code == 401
    assert (await client.get(TASKS)).status_code == 429  # this address is refused now

    for path in ("/health", "/ready", "/metrics", "/schema/openapi.json"):
        for _ in range(3):
            assert (await client.get(path, headers=admin)).status_code == 200, path


async def test_each_refusal_is_counted_by_reason_on_metrics(world: World, client_of: ClientOf) -> None:
    client = await client_of(
        RateLimits(per_credential=Rate(per_second=1, burst=1), auth_failures=Rate(per_second=1, burst=1))
    )
    admin = key_header(await world.key(Role.ADMIN))
    await client.get(TASKS, headers=admin)
    for _ in range(2):
        assert (await client.get(TASKS, headers=admin)).status_code == 429
    assert (await client.get(TASKS, headers=key_header("guess"))).status_code == 401
    assert (await client.get(TASKS, headers=admin)).status_code == 429

    scrape = await client.get("/metrics")

    counted = {
        sample.labels["reason"]: sample.value
        for family in text_string_to_metric_families(scrape.text)
        for sample in family.samples
        if sample.name == "scheduler_api_rate_limited_total"
    }
    assert counted == {"credential": 2, "auth_failures": 1}
    assert 'scheduler_http_requests_total{method="GET",route="/api/v1/tasks",status="429"} 3.0' in scrape.text


@pytest.mark.parametrize(
    ("limits", "refused"),
    [(RateLimits(), True), (RateLimits(per_credential=UNLIMITED, auth_failures=UNLIMITED), False)],
    ids=["default", "zero"],
)
async def test_by_default_an_address_may_fail_50_times_at_once_and_zero_turns_the_limits_off(
    world: World, client_of: ClientOf, limits: RateLimits, refused: bool
) -> None:
    client = await client_of(limits)

    answers = [(await client.get(TASKS, headers=key_header(f"guess-{n}"))).status_code for n in range(51)]

    assert answers[:50] == [401] * 50
    assert answers[50] == (429 if refused else 401)
