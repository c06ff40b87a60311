"""`api.cors_allow_origins` and `api.cors_max_age_seconds` reach the API the app builds."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from scheduler_app.containers.processes import StandaloneContainer
from scheduler_config import load_config

PREFLIGHT = {"Origin": "http://localhost:3000", "Access-Control-Request-Method": "PATCH"}


async def preflight(env: dict[str, str], data_dir: Path) -> dict[str, str]:
    """The headers of the answer to a browser's preflight, from the API the container builds."""
    container = StandaloneContainer(config=load_config(env, overrides={"data_dir": str(data_dir)}))
    try:
        app: Litestar = await container.roles.api_app()
        async with AsyncTestClient(app=app) as client:
            answer = await client.options("/api/v1/tasks/1", headers=PREFLIGHT)
        return dict(answer.headers)
    finally:
        await container.shutdown_resources()


async def test_the_allowed_origins_and_max_age_reach_the_api(tmp_path: Path) -> None:
    env = {
        "SCHEDULER_API__CORS_ALLOW_ORIGINS": "https://app.example.com, http://localhost:3000",
        "SCHEDULER_API__CORS_MAX_AGE_SECONDS": "30",
    }

    headers = await preflight(env, tmp_path)

    assert headers["access-control-allow-origin"] == "http://localhost:3000"
    assert headers["access-control-max-age"] == "30"


@pytest.mark.parametrize("env", [{}, {"SCHEDULER_API__CORS_MAX_AGE_SECONDS": "30"}])
async def test_without_allowed_origins_the_api_answers_no_cors_header(
    env: dict[str, str], tmp_path: Path
) -> None:
    headers = await preflight(env, tmp_path)

    assert not [name for name in headers if name.startswith("access-control-")]
