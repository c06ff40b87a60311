"""`api.key_cache_seconds` reaches the API's key check: how long a key revoked elsewhere still works."""

from __future__ import annotations

import pytest
from dependency_injector import containers, providers

from scheduler_app.containers.basics import Core
from scheduler_app.containers.parts import UseCases
from scheduler_application import AccessControl
from scheduler_config import load_config
from scheduler_domain import Role
from scheduler_errors import Unauthenticated
from scheduler_testing import FakeApiKeyRepository


class KeyStorage(containers.DeclarativeContainer):
    api_keys = providers.Singleton(FakeApiKeyRepository)


def access_control(env: dict[str, str]) -> tuple[AccessControl, FakeApiKeyRepository]:
    storage = KeyStorage()
    use_cases = UseCases(core=Core(config=load_config(env)), storage=storage)
    return use_cases.access(), storage.api_keys()


@pytest.mark.parametrize(
    ("env", "still_works"), [({}, True), ({"SCHEDULER_API__KEY_CACHE_SECONDS": "0"}, False)]
)
async def test_a_key_revoked_through_another_process_works_here_as_long_as_the_setting_says(
    env: dict[str, str], still_works: bool
) -> None:
    access, keys = access_control(env)
    issued = await access.issue("ci", Role.OPERATOR)
    await access.authenticate(issued.secret)  # read once: remembered, unless the cache is off

    await keys.revoke(issued.key.id, issued.key.created_at)  # as another API process would

    if still_works:
        assert (await access.authenticate(issued.secret)).subject
    else:
        with pytest.raises(Unauthenticated):
            await access.authenticate(issued.secret)
