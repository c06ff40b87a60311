"""Each cluster process puts PostgreSQL and its broker behind breakers built from `[circuit_breaker]`,
shown in the metrics it serves; a worker that serves none loads no metrics library for them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from scheduler_app.containers.processes import ClusterContainer
from scheduler_app.containers.worker import WorkerContainer
from scheduler_config import load_config
from scheduler_infrastructure.breaker import BreakerState, CircuitBreaker

CLUSTER = {
    "SCHEDULER_DATABASE__URL": "postgresql://postgres@127.0.0.1:5432/test",
    "SCHEDULER_QUEUE__URL": "redis://127.0.0.1:6379/0",
    "SCHEDULER_CIRCUIT_BREAKER__FAILURE_THRESHOLD": "7",
    "SCHEDULER_CIRCUIT_BREAKER__RESET_TIMEOUT_SECONDS": "2.5",
}


def test_a_cluster_process_has_a_breaker_per_service_built_from_the_settings() -> None:
    container = ClusterContainer(config=load_config(CLUSTER))

    database, broker = container.storage.breaker(), container.messaging.breaker()

    assert (database.component, broker.component) == ("postgresql", "redis")
    assert isinstance(database, CircuitBreaker)
    assert database.enabled
    assert container.storage.breaker() is database  # one per process, shared by every call
    exposition = container.metrics().exposition().decode()
    assert 'scheduler_circuit_breaker_state{component="postgresql"} 0.0' in exposition
    assert 'scheduler_circuit_breaker_state{component="redis"} 0.0' in exposition
    assert 'scheduler_circuit_breaker_opened_total{component="redis"} 0.0' in exposition


@pytest.mark.parametrize(
    ("url", "component"), [("amqp://guest:guest@127.0.0.1/", "rabbitmq"), ("rediss://h/0", "redis")]
)
def test_the_broker_breaker_is_named_for_the_broker(url: str, component: str) -> None:
    container = ClusterContainer(config=load_config({**CLUSTER, "SCHEDULER_QUEUE__URL": url}))

    assert container.messaging.breaker().component == component


def test_the_metrics_follow_the_breaker() -> None:
    container = ClusterContainer(
        config=load_config({**CLUSTER, "SCHEDULER_CIRCUIT_BREAKER__FAILURE_THRESHOLD": "1"})
    )
    breaker = container.storage.breaker()

    with pytest.raises(ConnectionError), breaker.guard(lambda exc: isinstance(exc, ConnectionError)):
        raise ConnectionError("refused")

    assert breaker.state is BreakerState.OPEN
    exposition = container.metrics().exposition().decode()
    assert 'scheduler_circuit_breaker_state{component="postgresql"} 1.0' in exposition
    assert 'scheduler_circuit_breaker_opened_total{component="postgresql"} 1.0' in exposition


def test_breakers_turned_off_are_not_shown() -> None:
    container = ClusterContainer(
        config=load_config({**CLUSTER, "SCHEDULER_CIRCUIT_BREAKER__FAILURE_THRESHOLD": "0"})
    )

    assert not container.storage.breaker().enabled
    assert "scheduler_circuit_breaker" not in container.metrics().exposition().decode()


def test_a_worker_that_serves_metrics_shows_its_broker_breaker() -> None:
    container = WorkerContainer(config=load_config({**CLUSTER, "SCHEDULER_WORKER__METRICS_PORT": "9464"}))

    assert container.messaging.breaker().component == "redis"
    exposition = container.metrics().metrics.exposition().decode()
    assert 'scheduler_circuit_breaker_state{component="redis"} 0.0' in exposition


def test_a_worker_that_serves_no_metrics_builds_its_breaker_without_a_metrics_library() -> None:
    probe = (
        "import sys\n"
        "from scheduler_app.containers.worker import WorkerContainer\n"
        "from scheduler_config import load_config\n"
        f"container = WorkerContainer(config=load_config({CLUSTER!r}))\n"
        "breaker = container.messaging.breaker()\n"
        "print(breaker.component, breaker.enabled, 'prometheus_client' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "redis True False"
