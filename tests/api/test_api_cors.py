"""CORS: web pages of the allowed origins may call the API from a browser, and read its answers.

A browser asks first (a preflight: `OPTIONS` with `Origin` and `Access-Control-Request-Method`,
never with a credential), then sends the request, and shows the page an answer only when it
carries `Access-Control-Allow-Origin` for the page's origin.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from scheduler_api import create_app
from scheduler_api.limits import DEFAULT_LIMITS, Rate, RateLimits
from scheduler_domain import Role
from tests.api.conftest import World, assert_problem, create_task

APP_ORIGIN = "https://app.example.com"
DEV_ORIGIN = "http://localhost:3000"
OTHER_ORIGIN = "https://evil.example"
ALLOWED = (APP_ORIGIN, DEV_ORIGIN)
TASKS = "/api/v1/tasks"
UNLIMITED = Rate(per_second=0, burst=0)
#: Routes of every kind under /api/v1, with a method a page would send to each.
ROUTES = [
    ("POST", TASKS),
    ("GET", TASKS),
    ("PATCH", f"{TASKS}/1"),
    ("DELETE", f"{TASKS}/1"),
    ("POST", f"{TASKS}/1/trigger"),
    ("POST", "/api/v1/runs/1/cancel"),
    ("GET", "/api/v1/workers"),
    ("POST", "/api/v1/workers/w-1/heartbeat"),
    ("POST", "/api/v1/api-keys"),
    ("DELETE", "/api/v1/api-keys/1"),
    ("GET", "/api/v1/audit-log"),
    ("POST", "/api/v1/auth/token"),
]

ClientOf = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def client_of(world: World, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ClientOf]:
    """Open a client (no credential of its own) of the world's app built with these CORS settings."""
    async with contextlib.AsyncExitStack() as clients:

        async def client(
            origins: Sequence[str], *, max_age: int = 600, limits: RateLimits = DEFAULT_LIMITS
        ) -> httpx.AsyncClient:
            with_cors = functools.partial(
                create_app,
                cors_allow_origins=origins,
                cors_max_age_seconds=max_age,
                rate_limits=limits,
                monotonic=lambda: world.clock.now().timestamp(),
            )
            monkeypatch.setattr(sys.modules[type(world).__module__], "create_app", with_cors)
            app: Litestar = world.app()
            return await clients.enter_async_context(AsyncTestClient(app=app))

        yield client


def preflight_of(method: str, origin: str = APP_ORIGIN, headers: str = "") -> dict[str, str]:
    """The headers of a browser's preflight for a `method` request from `origin`."""
    asked = {"Origin": origin, "Access-Control-Request-Method": method}
    return asked | ({"Access-Control-Request-Headers": headers} if headers else {})


def listed(response: httpx.Response, header: str) -> set[str]:
    """The comma-separated values of `header`, lower-cased."""
    return {part.strip().lower() for part in response.headers.get(header, "").split(",") if part.strip()}


def cors_headers(response: httpx.Response) -> list[str]:
    return [name for name in response.headers if name.lower().startswith("access-control-")]


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_a_preflight_from_an_allowed_origin_is_answered_without_a_credential(
    client_of: ClientOf, method: str, path: str
) -> None:
    client = await client_of(ALLOWED, max_age=120)

    answer = await client.options(path, headers=preflight_of(method, headers="X-API-Key, Content-Type"))

    assert answer.status_code == 204, answer.text
    assert answer.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert answer.headers["Vary"] == "Origin"
    assert {"get", "post", "patch", "delete"} <= listed(answer, "Access-Control-Allow-Methods")
    assert {"authorization", "content-type", "x-api-key"} <= listed(answer, "Access-Control-Allow-Headers")
    assert answer.headers["Access-Control-Max-Age"] == "120"
    assert "Access-Control-Allow-Credentials" not in answer.headers
    assert answer.headers["X-Content-Type-Options"] == "nosniff"  # the security headers still apply


async def test_each_allowed_origin_is_answered_with_itself(client_of: ClientOf) -> None:
    client = await client_of(ALLOWED)

    answer = await client.options(TASKS, headers=preflight_of("POST", origin=DEV_ORIGIN))

    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Origin"] == DEV_ORIGIN


async def test_preflights_cost_no_failed_auth_allowance_and_pass_an_address_already_refused(
    world: World, client_of: ClientOf
) -> None:
    two_failures = Rate(per_second=0.1, burst=2)
    client = await client_of(ALLOWED, limits=RateLimits(per_credential=UNLIMITED, auth_failures=two_failures))
    wrong = {"X-API-Key": "sk_not-a-key", "Origin": APP_ORIGIN}

    for method, path in ROUTES:  # twelve preflights from one address, none with a credential
        assert (await client.options(path, headers=preflight_of(method))).status_code == 204
    failures = [(await client.get(TASKS, headers=wrong)).status_code for _ in range(2)]
    refused = await client.get(TASKS, headers=wrong)
    preflight = await client.options(TASKS, headers=preflight_of("GET"))

    assert failures == [401, 401]  # the preflights took nothing of the address's allowance
    assert_problem(refused, 429)
    assert refused.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert preflight.status_code == 204  # a refused address may still ask: it is no attempt
    assert preflight.headers["Access-Control-Allow-Origin"] == APP_ORIGIN


async def test_a_preflight_writes_nothing_and_is_not_audited(world: World, client_of: ClientOf) -> None:
    client = await client_of(ALLOWED)
    client.headers["X-API-Key"] = await world.key(Role.ADMIN)
    created = await create_task(client)
    del client.headers["X-API-Key"]  # a preflight never carries one
    entries = list(world.audit_rows.rows)

    for method, path in [("PATCH", f"{TASKS}/{created['id']}"), ("DELETE", f"{TASKS}/{created['id']}")]:
        answer = await client.options(path, headers=preflight_of(method))
        assert answer.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    answer = await client.options(TASKS, headers=preflight_of("POST"))

    assert answer.status_code == 204
    assert list(world.audit_rows.rows) == entries
    assert [task.name for task in world.task_rows.rows.values()] == ["echo"]


async def test_a_request_from_an_allowed_origin_may_read_its_answer(
    world: World, client_of: ClientOf
) -> None:
    client = await client_of(ALLOWED)
    admin = await world.key(Role.ADMIN)

    answer = await client.get(TASKS, headers={"Origin": APP_ORIGIN, "X-API-Key": admin})

    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert answer.headers["Vary"] == "Origin"
    assert {"retry-after", "www-authenticate"} <= listed(answer, "Access-Control-Expose-Headers")
    assert "Access-Control-Allow-Credentials" not in answer.headers


async def _unauthenticated(client: httpx.AsyncClient, world: World) -> httpx.Response:
    return await client.get(TASKS)


async def _forbidden(client: httpx.AsyncClient, world: World) -> httpx.Response:
    readonly = await world.key(Role.READONLY)
    return await client.post(TASKS, json={"name": "x", "command": "true"}, headers={"X-API-Key": readonly})


async def _not_found(client: httpx.AsyncClient, world: World) -> httpx.Response:
    return await client.get(f"{TASKS}/999", headers={"X-API-Key": await world.key(Role.ADMIN)})


async def _invalid(client: httpx.AsyncClient, world: World) -> httpx.Response:
    admin = await world.key(Role.ADMIN)
    return await client.post(TASKS, json={"name": "x", "command": 5}, headers={"X-API-Key": admin})


async def _rate_limited(client: httpx.AsyncClient, world: World) -> httpx.Response:
    admin = {"X-API-Key": await world.key(Role.ADMIN)}
    assert (await client.get(TASKS, headers=admin)).status_code == 200
    return await client.get(TASKS, headers=admin)


ONE_PER_SECOND = RateLimits(per_credential=Rate(per_second=1, burst=1), auth_failures=UNLIMITED)


@pytest.mark.parametrize(
    ("status", "ask", "limits"),
    [
        (401, _unauthenticated, DEFAULT_LIMITS),
        (403, _forbidden, DEFAULT_LIMITS),
        (404, _not_found, DEFAULT_LIMITS),
        (422, _invalid, DEFAULT_LIMITS),
        (429, _rate_limited, ONE_PER_SECOND),
    ],
)
async def test_a_problem_answered_to_an_allowed_origin_can_be_read_by_the_page(
    world: World,
    client_of: ClientOf,
    status: int,
    ask: Callable[[httpx.AsyncClient, World], Awaitable[httpx.Response]],
    limits: RateLimits,
) -> None:
    client = await client_of(ALLOWED, limits=limits)
    client.headers["Origin"] = APP_ORIGIN

    answer = await ask(client, world)

    assert_problem(answer, status)
    assert answer.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert {"retry-after", "www-authenticate"} <= listed(answer, "Access-Control-Expose-Headers")


async def test_an_origin_not_listed_is_not_allowed(world: World, client_of: ClientOf) -> None:
    client = await client_of(ALLOWED)
    admin = await world.key(Role.ADMIN)

    preflight = await client.options(TASKS, headers=preflight_of("POST", origin=OTHER_ORIGIN))
    answer = await client.get(TASKS, headers={"Origin": OTHER_ORIGIN, "X-API-Key": admin})
    near_miss = await client.get(TASKS, headers={"Origin": f"{APP_ORIGIN}.evil.example", "X-API-Key": admin})

    assert preflight.status_code == 400
    assert "Access-Control-Allow-Origin" not in preflight.headers
    assert answer.status_code == 200  # served (a browser hides it from the page; curl is no browser)
    assert "Access-Control-Allow-Origin" not in answer.headers
    assert "Access-Control-Allow-Origin" not in near_miss.headers


@pytest.mark.parametrize(
    ("method", "headers"),
    [("PUT", ""), ("POST", "X-Custom-Header"), ("GET", "Cookie")],
)
async def test_a_preflight_for_a_method_or_header_not_allowed_is_refused(
    client_of: ClientOf, method: str, headers: str
) -> None:
    client = await client_of(ALLOWED)

    answer = await client.options(TASKS, headers=preflight_of(method, headers=headers))

    assert answer.status_code == 400
    assert "Access-Control-Allow-Origin" not in answer.headers


async def test_a_star_allows_any_origin_but_never_credentials(world: World, client_of: ClientOf) -> None:
    client = await client_of(("*",))
    admin = await world.key(Role.ADMIN)

    preflight = await client.options(TASKS, headers=preflight_of("POST", origin=OTHER_ORIGIN))
    answer = await client.get(TASKS, headers={"Origin": OTHER_ORIGIN, "X-API-Key": admin})

    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in preflight.headers
    assert "Access-Control-Allow-Credentials" not in answer.headers


async def test_without_allowed_origins_no_cors_header_appears(
    world: World, anonymous: httpx.AsyncClient
) -> None:
    admin = await world.key(Role.ADMIN)

    preflight = await anonymous.options(TASKS, headers=preflight_of("POST"))
    answer = await anonymous.get(TASKS, headers={"Origin": APP_ORIGIN, "X-API-Key": admin})
    refused = await anonymous.get(TASKS, headers={"Origin": APP_ORIGIN})

    assert cors_headers(preflight) == []
    assert answer.status_code == 200
    assert cors_headers(answer) == []
    assert_problem(refused, 401)
    assert cors_headers(refused) == []
