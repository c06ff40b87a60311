"""JWTs across API processes: one secret shared, a token from one process works on another."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.cluster import RoleProcess

pytestmark = pytest.mark.e2e

SHARED_SECRET = "e2e-shared-jwt-secret-0123456789abcdef"


def token_from(api: RoleProcess) -> str:
    answer = httpx.post(f"{api.url}/api/v1/auth/token", headers={"X-API-Key": api.admin_key or ""}, timeout=5)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def tasks_with(api: RoleProcess, token: str) -> int:
    return httpx.get(
        f"{api.url}/api/v1/tasks", headers={"Authorization": f"Bearer {token}"}, timeout=5
    ).status_code


@pytest.mark.parametrize("shared", [True, False], ids=["shared secret", "no secret"])
def test_a_token_works_on_every_api_process_that_shares_the_secret(
    cluster_settings: dict[str, str], tmp_path: Path, shared: bool
) -> None:
    env = {**cluster_settings, "SCHEDULER_API__JWT_SECRET": SHARED_SECRET} if shared else cluster_settings
    first, second = (RoleProcess("api", tmp_path, env).start() for _ in range(2))
    try:
        token = token_from(first)

        assert tasks_with(first, token) == 200
        assert tasks_with(second, token) == (200 if shared else 401)
    finally:
        assert first.stop() == 0, first.logs()
        assert second.stop() == 0, second.logs()
    assert ("api.jwt_secret is not set" in first.logs()) is not shared
