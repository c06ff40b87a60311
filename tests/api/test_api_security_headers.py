"""Every API answer tells browsers and caches to keep it to themselves.

Answers carry secrets (a new API key, task arguments that may hold credentials): no cache may
store them (`Cache-Control: no-store`), no browser may sniff a JSON body into something it runs
(`X-Content-Type-Options: nosniff`) or frame one (`X-Frame-Options`, CSP `frame-ancestors`).
"""

from __future__ import annotations

import httpx
import pytest

from scheduler_domain import Role
from tests.api.conftest import World

API_HEADERS = {
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
}


def security_headers_of(response: httpx.Response) -> dict[str, str | None]:
    return {name: response.headers.get(name) for name in API_HEADERS}


async def test_the_answer_that_shows_a_new_key_may_not_be_cached(admin: httpx.AsyncClient) -> None:
    response = await admin.post("/api/v1/api-keys", json={"name": "ci", "role": "operator"})

    assert response.status_code == 201
    assert security_headers_of(response) == API_HEADERS


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/tasks", 200),
        ("POST", "/api/v1/tasks", 201),
        ("GET", "/api/v1/tasks/999", 404),
        ("POST", "/api/v1/tasks/1/trigger", 422),
        ("GET", "/api/v1/nowhere", 404),
        ("PUT", "/api/v1/tasks", 405),
        ("GET", "/health", 200),
        ("GET", "/ready", 200),
    ],
)
async def test_answers_and_problems_carry_the_security_headers(
    admin: httpx.AsyncClient, method: str, path: str, status: int
) -> None:
    body = {"name": "t", "command": "echo hi", "arguments": {"env": {"TOKEN": "s3cret"}}}
    response = await admin.request(method, path, json=body if method != "GET" else None)

    assert response.status_code == status, response.text
    assert security_headers_of(response) == API_HEADERS


@pytest.mark.parametrize("role", [None, Role.READONLY])
async def test_refusals_carry_the_security_headers(
    world: World, anonymous: httpx.AsyncClient, role: Role | None
) -> None:
    headers = {"X-API-Key": await world.key(role)} if role else {}

    response = await anonymous.post("/api/v1/api-keys", json={"name": "x", "role": "admin"}, headers=headers)

    assert response.status_code == (403 if role else 401)
    assert security_headers_of(response) == API_HEADERS


async def test_the_openapi_document_is_not_sniffed(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/schema/openapi.json")

    assert response.status_code == 200
    assert response.headers.get("x-content-type-options") == "nosniff"
