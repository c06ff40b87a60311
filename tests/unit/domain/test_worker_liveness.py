"""When a worker counts as lost: silent for longer than the timeout, and not offline already."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scheduler_domain import WorkerInfo, WorkerStatus

NOW = datetime(2026, 1, 5, tzinfo=UTC)
TIMEOUT = timedelta(seconds=30)


@pytest.mark.parametrize(("silent_for", "lost"), [(0, False), (30, False), (30.001, True), (600, True)])
def test_a_worker_is_lost_once_its_last_heartbeat_is_older_than_the_timeout(
    silent_for: float, lost: bool
) -> None:
    worker = WorkerInfo(
        id="w", hostname="h", status=WorkerStatus.ONLINE, last_heartbeat=NOW - timedelta(seconds=silent_for)
    )

    assert worker.is_lost(NOW, TIMEOUT) is lost


def test_a_worker_that_never_beat_counts_from_its_registration() -> None:
    worker = WorkerInfo(id="w", hostname="h", registered_at=NOW - timedelta(seconds=10))

    assert not worker.is_lost(NOW, TIMEOUT)
    assert worker.is_lost(NOW + TIMEOUT, TIMEOUT)


def test_an_offline_worker_is_not_lost_again() -> None:
    worker = WorkerInfo(id="w", hostname="h", status=WorkerStatus.OFFLINE, last_heartbeat=NOW - TIMEOUT * 10)

    assert not worker.is_lost(NOW, TIMEOUT)
