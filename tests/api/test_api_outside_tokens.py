"""Bearer JWTs signed by an outside identity provider (RS256, ES256), checked against its JWKS.

The provider is a real HTTP server on 127.0.0.1 serving a JWKS; it counts how often it is asked.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, Key, RSAKey
from litestar.testing import AsyncTestClient

from scheduler_api.outside_tokens import MAX_JWKS_BYTES, REFETCH_SECONDS, IdentityProviderKeys, OutsideTokens
from scheduler_domain import Role
from scheduler_testing import FakeClock
from tests.api.conftest import World, assert_problem
from tests.worker_fixtures.http_server import serving_with, unused_port

ISSUER = "https://idp.example"
AUDIENCE = "scheduler"
REFRESH_SECONDS = 600
START = int(FakeClock().now().timestamp())
RSA = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})
EC = ECKey.generate_key("P-256", parameters={"kid": "ec-1"})
#: Keys the provider never published: one under a kid of its own, one reusing the RSA key's kid.
STRANGER = RSAKey.generate_key(2048, parameters={"kid": "stranger"})
IMPOSTOR = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})
TASKS = "/api/v1/tasks"


@dataclass
class Provider:
    """What the identity provider publishes, whether it fails, and how often it was asked."""

    published: list[Key] = field(default_factory=lambda: [RSA, EC])
    failing: bool = False
    #: Spaces to pad the document with (JSON still), to make it as large as a test needs.
    padding: int = 0
    requests: int = 0
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/.well-known/jwks.json"


def _handler(provider: Provider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            provider.requests += 1
            status = 500 if provider.failing else 200
            document = {"keys": [key.as_dict(private=False) for key in provider.published]}
            body = json.dumps(document).encode() if status == 200 else b"down for maintenance"
            body = body[:-1] + b" " * provider.padding + body[-1:]
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture
def provider() -> Iterator[Provider]:
    state = Provider()
    with serving_with(_handler(state)) as port:
        state.port = port
        yield state


def world_trusting(url: str) -> World:
    clock = FakeClock()
    keys = IdentityProviderKeys(url=url, refresh_seconds=REFRESH_SECONDS, clock=clock)
    checker = OutsideTokens(keys=keys, issuer=ISSUER, audience=AUDIENCE, role_claim="role", clock=clock)
    return World(clock=clock, outside_tokens=checker)


@pytest.fixture
def world(provider: Provider) -> World:
    return world_trusting(provider.url)


def signed(key: Key, alg: str = "RS256", kid: str | None = None, **claims: Any) -> str:
    """A token of the provider (unless told otherwise), valid for five minutes from the start."""
    payload = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "exp": START + 300, "role": "readonly"}
    return jwt.encode({"alg": alg, "kid": kid or key.kid}, {**payload, **claims}, key, algorithms=[alg])


def unsigned(header: dict[str, Any], claims: dict[str, Any], sign: Any = None) -> str:
    """A token put together by hand: `sign(signing_input)` makes its signature (empty without)."""
    segments = [_b64(json.dumps(part).encode()) for part in (header, claims)]
    signing_input = ".".join(segments).encode()
    return ".".join([*segments, _b64(sign(signing_input)) if sign else ""])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


GOOD = {"sub": "mallory", "iss": ISSUER, "aud": AUDIENCE, "exp": START + 300, "role": "admin"}
PUBLIC_PEM = RSA.as_pem(private=False)
#: The classic confusion: HS256 with the provider's public key (known to all) as the secret.
PUBLIC_KEY_AS_SECRET = unsigned(
    {"alg": "HS256", "kid": "rsa-1"}, GOOD, lambda data: hmac.new(PUBLIC_PEM, data, hashlib.sha256).digest()
)
ALG_NONE = unsigned({"alg": "none", "kid": "rsa-1"}, GOOD)


@pytest.mark.parametrize(("key", "alg"), [(RSA, "RS256"), (EC, "ES256")], ids=["RS256", "ES256"])
async def test_a_token_of_the_provider_acts_with_the_role_it_names(
    anonymous: httpx.AsyncClient, key: Key, alg: str
) -> None:
    token = signed(key, alg)

    listed = await anonymous.get(TASKS, headers=bearer(token))
    refused = await anonymous.post(TASKS, json={"name": "t", "command": "true"}, headers=bearer(token))

    assert listed.status_code == 200, listed.text
    assert "lacks the task:write permission" in assert_problem(refused, 403)["detail"]


async def test_the_first_known_role_of_a_list_counts(anonymous: httpx.AsyncClient) -> None:
    token = signed(RSA, role=["viewer", "operator", "readonly"])

    created = await anonymous.post(TASKS, json={"name": "t", "command": "true"}, headers=bearer(token))

    assert created.status_code == 201, created.text


@pytest.mark.parametrize(
    ("token", "says"),
    [
        (signed(RSA, aud="someone-else"), "not valid here"),
        (signed(EC, "ES256", iss="https://other.example"), "not valid here"),
        (signed(RSA, sub=""), "not valid here"),
        (signed(RSA, role="superuser"), "no known role"),
        (signed(RSA, role=["viewer"]), "no known role"),
        (signed(RSA, role=None), "no known role"),
        (signed(STRANGER), "not among the identity provider's keys"),
        (signed(IMPOSTOR), "not valid here"),
        (signed(RSA, "RS256", kid="ec-1"), "not valid here"),
        (unsigned({"alg": "RS256"}, GOOD, lambda data: b"x"), "names no key"),
        (ALG_NONE, "not valid here"),
        (unsigned({"alg": "HS512", "kid": "rsa-1"}, GOOD, lambda data: b"x" * 64), "not valid here"),
        (PUBLIC_KEY_AS_SECRET, "not valid here"),
    ],
    ids=[
        "another audience",
        "another issuer",
        "an empty subject",
        "an unknown role",
        "no known role in a list",
        "no role",
        "a kid not in the set",
        "a key not in the set under a kid in it",
        "the EC key's kid on an RS256 token",
        "no kid",
        "alg none",
        "HS512",
        "HS256 signed with the public key",
    ],
)
async def test_a_forged_or_foreign_token_is_refused(
    anonymous: httpx.AsyncClient, token: str, says: str
) -> None:
    answer = await anonymous.get(TASKS, headers=bearer(token))

    problem = assert_problem(answer, 401)
    assert says in problem["detail"]
    assert answer.headers["www-authenticate"]


async def test_hs256_and_other_algorithms_never_reach_the_providers_keys(
    provider: Provider, anonymous: httpx.AsyncClient
) -> None:
    for token in (PUBLIC_KEY_AS_SECRET, ALG_NONE):
        assert_problem(await anonymous.get(TASKS, headers=bearer(token)), 401)

    assert provider.requests == 0


async def test_an_expired_token_is_refused_by_the_schedulers_clock(
    world: World, anonymous: httpx.AsyncClient
) -> None:
    token = signed(EC, "ES256", exp=START + 60)
    assert (await anonymous.get(TASKS, headers=bearer(token))).status_code == 200

    world.clock.advance(60)
    expired = await anonymous.get(TASKS, headers=bearer(token))

    assert "expired" in assert_problem(expired, 401)["detail"]


async def test_the_keys_are_fetched_at_the_first_outside_token_and_once_for_many(
    provider: Provider, anonymous: httpx.AsyncClient
) -> None:
    assert provider.requests == 0

    answers = await asyncio.gather(*(anonymous.get(TASKS, headers=bearer(signed(RSA))) for _ in range(5)))
    await anonymous.get(TASKS, headers=bearer(signed(EC, "ES256")))

    assert [answer.status_code for answer in answers] == [200] * 5
    assert provider.requests == 1


async def test_an_unknown_kid_fetches_the_keys_again_at_most_once_per_30_seconds(
    world: World, provider: Provider, anonymous: httpx.AsyncClient
) -> None:
    assert (await anonymous.get(TASKS, headers=bearer(signed(RSA)))).status_code == 200
    garbage = [signed(STRANGER, kid=f"garbage-{n}") for n in range(5)]

    for token in garbage:
        assert_problem(await anonymous.get(TASKS, headers=bearer(token)), 401)
    asked_at_once = provider.requests
    world.clock.advance(REFETCH_SECONDS)
    for token in garbage:
        assert_problem(await anonymous.get(TASKS, headers=bearer(token)), 401)
    asked_later = provider.requests

    assert (asked_at_once, asked_later) == (1, 2)


async def test_a_key_the_provider_adds_is_fetched_for_its_first_token(
    world: World, provider: Provider, anonymous: httpx.AsyncClient
) -> None:
    assert (await anonymous.get(TASKS, headers=bearer(signed(RSA)))).status_code == 200
    added = RSAKey.generate_key(2048, parameters={"kid": "rsa-2"})
    provider.published = [RSA, EC, added]
    world.clock.advance(REFETCH_SECONDS)

    answer = await anonymous.get(TASKS, headers=bearer(signed(added, exp=START + 600)))

    assert answer.status_code == 200, answer.text
    assert provider.requests == 2


async def test_after_the_refresh_period_rotated_keys_are_fetched(
    world: World, provider: Provider, anonymous: httpx.AsyncClient
) -> None:
    assert (await anonymous.get(TASKS, headers=bearer(signed(RSA)))).status_code == 200
    rotated = ECKey.generate_key("P-256", parameters={"kid": "ec-2"})
    provider.published = [rotated]
    world.clock.advance(REFRESH_SECONDS)
    later = {"exp": START + REFRESH_SECONDS + 300}

    new = await anonymous.get(TASKS, headers=bearer(signed(rotated, "ES256", **later)))
    withdrawn = await anonymous.get(TASKS, headers=bearer(signed(RSA, **later)))

    assert new.status_code == 200, new.text
    assert "not among" in assert_problem(withdrawn, 401)["detail"]
    assert provider.requests == 2


async def test_the_keys_fetched_last_stay_in_use_while_the_provider_fails(
    world: World, provider: Provider, anonymous: httpx.AsyncClient
) -> None:
    assert (await anonymous.get(TASKS, headers=bearer(signed(RSA)))).status_code == 200
    provider.failing = True
    world.clock.advance(REFRESH_SECONDS)
    later = signed(RSA, exp=START + REFRESH_SECONDS + 300)

    answers = [await anonymous.get(TASKS, headers=bearer(later)) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [200] * 3
    assert provider.requests == 2


async def test_a_provider_down_at_the_first_outside_token_is_a_503_and_api_keys_still_work() -> None:
    world = world_trusting(f"http://127.0.0.1:{unused_port()}/jwks.json")
    async with AsyncTestClient(app=world.app()) as client:
        down = await client.get(TASKS, headers=bearer(signed(RSA)))
        with_a_key = await client.get(TASKS, headers={"X-API-Key": await world.key(Role.READONLY)})

    detail = assert_problem(down, 503)["detail"]
    assert detail.startswith("the identity provider's keys (api.jwt_jwks_url) could not be fetched: ")
    assert with_a_key.status_code == 200


async def test_a_key_set_larger_than_the_bound_is_a_failed_fetch(
    provider: Provider, anonymous: httpx.AsyncClient
) -> None:
    provider.padding = MAX_JWKS_BYTES
    too_large = await anonymous.get(TASKS, headers=bearer(signed(RSA)))

    assert f"larger than {MAX_JWKS_BYTES} bytes" in assert_problem(too_large, 503)["detail"]


async def test_a_key_set_just_within_the_bound_is_read(
    provider: Provider, anonymous: httpx.AsyncClient
) -> None:
    document = {"keys": [key.as_dict(private=False) for key in provider.published]}
    provider.padding = MAX_JWKS_BYTES - len(json.dumps(document).encode())

    assert (await anonymous.get(TASKS, headers=bearer(signed(RSA)))).status_code == 200


async def test_a_failing_provider_is_asked_again_after_30_seconds(
    world: World, provider: Provider, anonymous: httpx.AsyncClient
) -> None:
    provider.failing = True
    token = signed(RSA, exp=START + 600)
    assert "answered 500" in assert_problem(await anonymous.get(TASKS, headers=bearer(token)), 503)["detail"]
    provider.failing = False

    world.clock.advance(REFETCH_SECONDS - 1)
    still = await anonymous.get(TASKS, headers=bearer(token))
    world.clock.advance(1)
    back = await anonymous.get(TASKS, headers=bearer(token))

    assert_problem(still, 503)
    assert back.status_code == 200, back.text
    assert provider.requests == 2


async def test_writes_made_with_an_outside_token_are_audited_under_jwt_and_its_subject(
    admin: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    token = signed(EC, "ES256", sub="carol@idp", role="operator")
    created = await anonymous.post(TASKS, json={"name": "audited", "command": "true"}, headers=bearer(token))
    assert created.status_code == 201, created.text

    entries = (await admin.get("/api/v1/audit-log")).json()["items"]

    actions = {entry["action"]: entry for entry in entries}
    assert actions["task.create"]["actor"] == "jwt:carol@idp"
    assert token not in json.dumps(entries)


async def test_an_outside_token_cannot_be_exchanged_for_one_of_ours(anonymous: httpx.AsyncClient) -> None:
    answer = await anonymous.post("/api/v1/auth/token", headers=bearer(signed(RSA, role="admin")))

    assert_problem(answer, 401)


@pytest.fixture
async def unconfigured() -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app that trusts no identity provider."""
    async with AsyncTestClient(app=World().app()) as client:
        yield client


async def test_without_a_jwks_an_rs256_token_is_refused(unconfigured: httpx.AsyncClient) -> None:
    answer = await unconfigured.get(TASKS, headers=bearer(signed(RSA)))

    assert_problem(answer, 401)
