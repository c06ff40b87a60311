"""API keys over REST: the secret is shown once, never listed, and revocation is immediate."""

from __future__ import annotations

import httpx

from scheduler_domain import Role
from tests.api.conftest import World, assert_problem, fields_of

KEYS = "/api/v1/api-keys"


async def test_create_shows_the_key_once_and_it_works(
    world: World, admin: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    response = await admin.post(KEYS, json={"name": "ci", "role": "operator"})

    assert response.status_code == 201
    created = response.json()
    assert set(created) == {"id", "name", "role", "key", "expires_at"}
    assert created["name"] == "ci"
    assert created["role"] == "operator"
    assert created["key"].startswith("sk_")
    assert (await anonymous.get("/api/v1/tasks", headers={"X-API-Key": created["key"]})).status_code == 200


async def test_list_never_shows_a_secret_or_hash(world: World, admin: httpx.AsyncClient) -> None:
    created = (await admin.post(KEYS, json={"name": "ci", "role": "readonly"})).json()

    response = await admin.get(KEYS)

    assert response.status_code == 200
    listed = response.json()["items"]
    assert [key["name"] for key in listed] == ["admin-key", "ci"]
    assert created["key"] not in response.text
    stored_hash = world.key_rows.rows[created["id"]].key_hash
    assert stored_hash not in response.text
    assert all("key" not in key and "key_hash" not in key for key in listed)


async def test_expiry_is_kept_and_a_past_one_is_422(admin: httpx.AsyncClient) -> None:
    future = await admin.post(
        KEYS, json={"name": "temp", "role": "readonly", "expires_at": "2026-02-01T00:00:00"}
    )
    past = await admin.post(
        KEYS, json={"name": "old", "role": "readonly", "expires_at": "2025-01-01T00:00:00Z"}
    )

    assert future.status_code == 201
    assert future.json()["expires_at"] == "2026-02-01T00:00:00Z"
    assert fields_of(assert_problem(past, 422)) == ["expires_at"]


async def test_an_expiry_beyond_the_calendar_in_utc_is_422_and_issues_no_key(
    world: World, admin: httpx.AsyncClient
) -> None:
    response = await admin.post(
        KEYS, json={"name": "forever", "role": "readonly", "expires_at": "9999-12-31T23:59:59-23:59"}
    )

    assert fields_of(assert_problem(response, 422)) == ["expires_at"]
    assert [key.name for key in world.key_rows.rows.values()] == ["admin-key"]


async def test_bad_key_requests_are_422(admin: httpx.AsyncClient) -> None:
    no_role = await admin.post(KEYS, json={"name": "x"})
    bad_role = await admin.post(KEYS, json={"name": "x", "role": "root"})
    blank = await admin.post(KEYS, json={"name": " ", "role": "admin"})
    nul = await admin.post(KEYS, json={"name": "ci\x00", "role": "admin"})

    assert fields_of(assert_problem(no_role, 422)) == ["role"]
    assert fields_of(assert_problem(bad_role, 422)) == ["role"]
    assert fields_of(assert_problem(blank, 422)) == ["name"]
    assert fields_of(assert_problem(nul, 422)) == ["name"]


async def test_revoke_is_204_and_the_key_is_401_at_once(
    admin: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    created = (await admin.post(KEYS, json={"name": "ci", "role": "admin"})).json()
    headers = {"Authorization": f"Bearer {created['key']}"}
    assert (await anonymous.get(KEYS, headers=headers)).status_code == 200

    revoked = await admin.delete(f"{KEYS}/{created['id']}")

    assert revoked.status_code == 204
    assert_problem(await anonymous.get(KEYS, headers=headers), 401)
    listed = (await admin.get(KEYS)).json()["items"]
    assert next(key for key in listed if key["id"] == created["id"])["revoked_at"] is not None


async def test_revoking_an_unknown_key_is_404(admin: httpx.AsyncClient) -> None:
    assert_problem(await admin.delete(f"{KEYS}/999"), 404)


async def test_an_operator_cannot_create_keys(world: World, anonymous: httpx.AsyncClient) -> None:
    headers = {"X-API-Key": await world.key(Role.OPERATOR)}

    response = await anonymous.post(KEYS, json={"name": "escalate", "role": "admin"}, headers=headers)

    assert_problem(response, 403)
    assert len(world.key_rows.rows) == 1


async def test_keys_are_listed_by_id_a_page_at_a_time(admin: httpx.AsyncClient) -> None:
    for name in ("one", "two", "three"):
        await admin.post(KEYS, json={"name": name, "role": "readonly"})

    first = (await admin.get(KEYS, params={"limit": 2})).json()
    rest = (await admin.get(KEYS, params={"limit": 2, "cursor": first["next_cursor"]})).json()
    bad = await admin.get(KEYS, params={"cursor": "garbage"})

    names = [key["name"] for key in first["items"] + rest["items"]]
    assert names == ["admin-key", "one", "two", "three"]
    assert len(first["items"]) == 2
    assert rest["next_cursor"] is None
    assert fields_of(assert_problem(bad, 422)) == ["cursor"]
