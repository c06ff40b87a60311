"""The worker's HTTP presence client against the real API app (over ASGI, no socket)."""

from __future__ import annotations

import httpx
import pytest
from litestar import Litestar

from scheduler_domain import Role, TaskType, WorkerInfo, WorkerStatus
from scheduler_errors import Conflict, NotFound, PermissionDenied, Unauthenticated, Unavailable
from scheduler_infrastructure import HttpWorkerPresence
from tests.api.conftest import World

WORKER = WorkerInfo(id="w-1", hostname="box", ip_address="10.0.0.5", port=0, task_types=(TaskType.SHELL,))


def presence_for(app: Litestar, key: str) -> HttpWorkerPresence:
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api", headers={"X-API-Key": key}
    )
    return HttpWorkerPresence(client=client)


async def test_register_heartbeat_and_deregister_reach_the_registry(world: World, app: Litestar) -> None:
    presence = presence_for(app, await world.key(Role.WORKER))

    registered = await presence.register(WORKER)
    await presence.heartbeat("w-1", current_task_count=2)
    stored = world.worker_rows.rows["w-1"]
    await presence.deregister("w-1")
    await presence.deregister("w-1")  # already gone: not an error

    assert registered.id == "w-1"
    assert registered.status is WorkerStatus.ONLINE
    assert (stored.current_task_count, stored.ip_address) == (2, "10.0.0.5")
    assert world.worker_rows.rows == {}
    with pytest.raises(NotFound):
        await presence.heartbeat("w-1", current_task_count=0)
    await presence.close()


async def test_a_wrong_key_is_unauthenticated_and_a_readonly_key_is_not_permitted(
    world: World, app: Litestar
) -> None:
    with pytest.raises(Unauthenticated, match="SCHEDULER_WORKER__API_KEY"):
        await presence_for(app, "sk_wrong").register(WORKER)
    with pytest.raises(PermissionDenied, match="worker role"):
        await presence_for(app, await world.key(Role.READONLY)).register(WORKER)


async def test_a_worker_id_held_by_another_worker_key_is_refused_naming_why(
    world: World, app: Litestar
) -> None:
    owner = presence_for(app, await world.key(Role.WORKER))
    intruder = presence_for(app, await world.key(Role.WORKER))
    await owner.register(WORKER)

    with pytest.raises(Conflict, match=r"409 to POST /api/v1/workers .*under another worker key"):
        await intruder.register(WORKER)
    with pytest.raises(
        PermissionDenied, match=r"refused POST /api/v1/workers/w-1/heartbeat .*another worker key"
    ):
        await intruder.heartbeat("w-1", current_task_count=0)
    with pytest.raises(PermissionDenied, match="refused DELETE"):
        await intruder.deregister("w-1")
    assert "w-1" in world.worker_rows.rows
    await owner.close()
    await intruder.close()


async def test_an_api_that_does_not_answer_is_unavailable() -> None:
    presence = HttpWorkerPresence.connect("http://127.0.0.1:1", "sk_x", timeout=1)
    with pytest.raises(Unavailable):
        await presence.register(WORKER)
    await presence.close()
