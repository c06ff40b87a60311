"""The OpenAPI document describes the API as served."""

from __future__ import annotations

import json

import httpx


async def _document(client: httpx.AsyncClient) -> dict[str, object]:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    return dict(json.loads(response.content))


async def test_it_is_openapi_3_1_with_the_task_paths(anonymous: httpx.AsyncClient) -> None:
    document = await _document(anonymous)

    assert str(document["openapi"]).startswith("3.1.")
    paths = document["paths"]
    assert isinstance(paths, dict)
    for path in (
        "/api/v1/tasks",
        "/api/v1/tasks/{task_id}",
        "/api/v1/tasks/{task_id}/trigger",
        "/api/v1/tasks/{task_id}/runs",
        "/api/v1/runs/{run_id}/cancel",
        "/api/v1/workers/{worker_id}/heartbeat",
        "/api/v1/api-keys/{key_id}",
        "/health",
        "/ready",
    ):
        assert path in paths, path
    assert set(paths["/api/v1/tasks/{task_id}"]) == {"get", "patch", "delete"}


async def test_the_api_key_schemes_are_declared_and_required(anonymous: httpx.AsyncClient) -> None:
    document = await _document(anonymous)

    schemes = document["components"]["securitySchemes"]  # type: ignore[index]
    assert schemes["ApiKeyHeader"] == {
        "type": "apiKey",
        "name": "X-API-Key",
        "in": "header",
        "description": "An API key.",
    }
    assert schemes["BearerKey"]["scheme"] == "bearer"
    create = document["paths"]["/api/v1/tasks"]["post"]  # type: ignore[index]
    assert {"ApiKeyHeader": []} in create["security"]
    assert "security" not in document["paths"]["/health"]["get"]  # type: ignore[index]


async def test_errors_are_documented_as_problems(anonymous: httpx.AsyncClient) -> None:
    document = await _document(anonymous)

    responses = document["paths"]["/api/v1/tasks"]["post"]["responses"]  # type: ignore[index]
    assert set(responses) >= {"201", "400", "401", "403", "409", "413", "422", "429"}
    assert list(responses["422"]["content"]) == ["application/problem+json"]
    assert "TaskCreate" in document["components"]["schemas"]  # type: ignore[index]
