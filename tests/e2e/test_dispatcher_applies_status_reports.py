"""A `scheduler dispatcher` process applies the status reports workers publish on the broker."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler_app.resources import connect_broker
from scheduler_domain import RunOutcome, RunStatus
from scheduler_foundation import SystemClock
from scheduler_worker import QueueRunReporter
from tests.e2e.cluster import (
    BROKER_URLS,
    RoleProcess,
    broker_namespace,
    cluster_env,
    private_schema,
    scheduler,
)
from tests.e2e.standalone import Api

pytestmark = pytest.mark.e2e


@pytest.fixture
def database_url() -> Iterator[str]:
    with private_schema() as url:
        yield url


async def report_run(broker: str, namespace: str, run_id: int, worker_id: str) -> None:
    """What a worker process reports for a run it executed, straight onto the broker."""
    queue = await connect_broker(BROKER_URLS[broker], namespace=namespace)
    try:
        reporter = QueueRunReporter(queue=queue, clock=SystemClock())
        await reporter.start(run_id, 1, worker_id)
        await reporter.finish(run_id, 1, worker_id, RunOutcome(status=RunStatus.SUCCEEDED, exit_code=0))
    finally:
        await queue.close()


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_a_dispatcher_process_applies_what_a_worker_reports(
    broker: str, database_url: str, tmp_path: Path
) -> None:
    with broker_namespace(broker) as namespace:
        env = cluster_env(database_url, broker, namespace)
        assert scheduler("migrate", env=env, cwd=tmp_path).returncode == 0
        api_process = RoleProcess("api", tmp_path, env).start()
        dispatcher = RoleProcess("dispatcher", tmp_path, env).start()
        try:
            with api_process.client() as client:
                api = Api(client)
                task = api.create_task(name="reported", command="echo hi")
                run = api.wait_run(api.trigger(task["id"])["id"], {"queued"}, timeout=10)

                asyncio.run(report_run(broker, namespace, run["id"], "w-e2e"))

                ended = api.wait_run(run["id"], {"succeeded"}, timeout=10)
                assert (ended["worker_id"], ended["exit_code"]) == ("w-e2e", 0)
                assert ended["started_at"] is not None
        finally:
            assert api_process.stop() == 0, api_process.logs()
            assert dispatcher.stop() == 0, dispatcher.logs()
