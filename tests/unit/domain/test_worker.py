"""A worker's heartbeat and departure."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from scheduler_domain import WorkerInfo, WorkerStatus

NOW = datetime(2026, 1, 5, tzinfo=UTC)


def a_worker(status: WorkerStatus) -> WorkerInfo:
    return WorkerInfo(id="w1", hostname="box", status=status, current_task_count=2)


@pytest.mark.parametrize("status", [WorkerStatus.REGISTERING, WorkerStatus.ONLINE, WorkerStatus.OFFLINE])
def test_a_heartbeat_brings_the_worker_online(status: WorkerStatus) -> None:
    beat = a_worker(status).heartbeat(NOW, current_task_count=3)

    assert (beat.status, beat.last_heartbeat, beat.current_task_count) == (WorkerStatus.ONLINE, NOW, 3)


def test_a_draining_worker_stays_draining() -> None:
    assert (
        a_worker(WorkerStatus.DRAINING).heartbeat(NOW, current_task_count=1).status is WorkerStatus.DRAINING
    )


def test_the_status_the_worker_reports_wins() -> None:
    beat = a_worker(WorkerStatus.ONLINE).heartbeat(NOW, current_task_count=0, status=WorkerStatus.DRAINING)

    assert beat.status is WorkerStatus.DRAINING


def test_offline_clears_the_load() -> None:
    gone = a_worker(WorkerStatus.ONLINE).offline()

    assert (gone.status, gone.current_task_count) == (WorkerStatus.OFFLINE, 0)
