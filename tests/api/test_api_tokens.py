"""`POST /api/v1/auth/token`: an API key exchanged for a JWT that then works as a credential."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from scheduler_domain import Role
from tests.api.conftest import TOKEN_SECRET, TOKEN_TTL, World, assert_problem


async def exchange(client: httpx.AsyncClient, key: str) -> dict[str, Any]:
    answer = await client.post("/api/v1/auth/token", headers={"X-API-Key": key})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


async def test_a_key_is_exchanged_for_a_bearer_token_carrying_its_role(
    world: World, anonymous: httpx.AsyncClient
) -> None:
    body = await exchange(anonymous, await world.key(Role.READONLY))

    assert body["token_type"] == "bearer"
    assert body["expires_in"] == TOKEN_TTL
    claims = claims_of(body["access_token"])
    assert claims["role"] == "readonly"
    assert claims["sub"].startswith("apikey:")
    assert "task:read" in claims["permissions"]
    assert "task:write" not in claims["permissions"]
    assert (claims["aud"], claims["iss"]) == ("scheduler", "scheduler")
    assert claims["exp"] - claims["iat"] == TOKEN_TTL


async def test_a_token_works_as_its_key_would(world: World, anonymous: httpx.AsyncClient) -> None:
    token = (await exchange(anonymous, await world.key(Role.OPERATOR)))["access_token"]

    created = await anonymous.post(
        "/api/v1/tasks", json={"name": "t", "command": "true"}, headers=bearer(token)
    )
    listed = await anonymous.get("/api/v1/tasks", headers=bearer(token))
    refused = await anonymous.post(
        "/api/v1/api-keys", json={"name": "k", "role": "admin"}, headers=bearer(token)
    )

    assert created.status_code == 201, created.text
    assert [task["name"] for task in listed.json()["items"]] == ["t"]
    assert_problem(refused, 403)


async def test_writes_made_with_a_token_are_audited_under_the_keys_subject(
    world: World, admin: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    body = await exchange(anonymous, str(admin.headers["X-API-Key"]))
    created = await anonymous.post(
        "/api/v1/tasks", json={"name": "audited", "command": "true"}, headers=bearer(body["access_token"])
    )
    assert created.status_code == 201

    entries = (await admin.get("/api/v1/audit-log")).json()["items"]

    actions = {entry["action"]: entry for entry in entries}
    assert actions["task.create"]["actor"] == claims_of(body["access_token"])["sub"]
    assert actions["token.issue"]["actor"] == actions["task.create"]["actor"]
    assert body["access_token"] not in json.dumps(entries)


async def test_an_expired_token_is_refused_and_says_to_exchange_again(
    world: World, anonymous: httpx.AsyncClient
) -> None:
    token = (await exchange(anonymous, await world.key(Role.ADMIN)))["access_token"]
    world.clock.advance(TOKEN_TTL - 1)
    assert (await anonymous.get("/api/v1/tasks", headers=bearer(token))).status_code == 200

    world.clock.advance(1)
    expired = await anonymous.get("/api/v1/tasks", headers=bearer(token))

    problem = assert_problem(expired, 401)
    assert "expired" in problem["detail"]
    assert expired.headers["www-authenticate"]


def signed(claims: dict[str, Any], secret: str = TOKEN_SECRET, alg: str = "HS256") -> str:
    return jwt.encode({"alg": alg}, claims, OctKey.import_key(secret.encode()), algorithms=[alg])


GOOD = {"sub": "apikey:1:x", "role": "admin", "aud": "scheduler", "iss": "scheduler", "exp": 1_767_229_200}


@pytest.mark.parametrize(
    ("token", "why"),
    [
        (signed(GOOD, secret="another-secret-0123456789abcdefghij"), "signed with another secret"),
        (signed({**GOOD, "aud": "someone-else"}), "for another audience"),
        (signed({**GOOD, "iss": "someone-else"}), "from another issuer"),
        (signed({key: value for key, value in GOOD.items() if key != "exp"}), "without an expiry"),
        (signed({**GOOD, "role": "superuser"}), "naming no known role"),
        (signed(GOOD, alg="HS512"), "with another algorithm"),
        ("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4Iiwicm9sZSI6ImFkbWluIn0.", "unsigned (alg none)"),
        ("eyJub3QiOiJqc29uIn0.@@@.x", "garbled"),
    ],
)
async def test_a_forged_or_foreign_token_is_refused(
    anonymous: httpx.AsyncClient, token: str, why: str
) -> None:
    answer = await anonymous.get("/api/v1/tasks", headers=bearer(token))

    assert_problem(answer, 401)


async def test_the_good_token_of_the_forgery_table_is_accepted(
    world: World, anonymous: httpx.AsyncClient
) -> None:
    answer = await anonymous.get("/api/v1/tasks", headers=bearer(signed(GOOD)))  # the clock is at 2026-01-01

    assert answer.status_code == 200, answer.text


async def test_only_an_api_key_is_exchanged(world: World, anonymous: httpx.AsyncClient) -> None:
    token = (await exchange(anonymous, await world.key(Role.WORKER)))["access_token"]

    again = await anonymous.post("/api/v1/auth/token", headers=bearer(token))
    without = await anonymous.post("/api/v1/auth/token")
    unknown = await anonymous.post("/api/v1/auth/token", headers={"X-API-Key": "sk_not-a-key"})

    assert "cannot be exchanged" in assert_problem(again, 401)["detail"]
    assert_problem(without, 401)
    assert_problem(unknown, 401)
