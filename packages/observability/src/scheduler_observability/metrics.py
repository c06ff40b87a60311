"""The Prometheus metrics of one process, in a registry of its own.

Every process kind that serves metrics builds one `Metrics` at start and passes it to what
records into it: the API's request middleware, the run repository (`MeteredRunRepository`), and
the `/metrics` route, which also sets the state gauges from the store at each scrape. The app
has it watch the database pool and the API key cache, read at each scrape too.

Counters count what this process did: Prometheus adds up the processes of a cluster
(`sum(rate(scheduler_runs_ended_total[5m]))`). The state gauges (`scheduler_runs`,
`scheduler_tasks`, `scheduler_workers`, `scheduler_worker_slots`) are read from the shared store,
so every API process shows the same cluster-wide values.

Not imported by `scheduler_observability` itself: a worker loads it (and prometheus_client) only
when it serves metrics (`worker.metrics_port`).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

#: The media type of `Metrics.exposition()`: Prometheus text format 0.0.4, which every Prometheus
#: reads (prometheus_client's own server answers it too unless a scraper asks for another). UTF-8.
MEDIA_TYPE = "text/plain; version=0.0.4"

#: Run durations span a no-op call to an hour-long job.
RUN_DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, float("inf"))
#: API requests: a cached read takes about a millisecond, a trigger two or three.
HTTP_DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, float("inf"))

__all__ = ["MEDIA_TYPE", "ClusterState", "Metrics"]

# No `<counter>_created` series beside each counter and histogram: Prometheus's text format has no
# use for them, and they would double the series a scrape stores. This is prometheus_client's
# process-wide switch; only processes that load this module serve metrics.
disable_created_metrics()  # type: ignore[no-untyped-call]


class Metrics:
    """The metrics of one process and the registry that exposes them.

    The process collectors are registered at once; each family of the scheduler's on first use,
    so a process shows only the families it records (a worker none of the API's).
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        threads = Gauge("process_threads", "Threads of this process.", registry=self.registry)
        threads.set_function(threading.active_count)

    @functools.cached_property
    def http_requests(self) -> Counter:
        """Counted by the API's request middleware (`scheduler_api.monitoring`)."""
        return Counter(
            "scheduler_http_requests",
            "API requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )

    @functools.cached_property
    def http_request_duration(self) -> Histogram:
        """Observed by the API's request middleware."""
        return Histogram(
            "scheduler_http_request_duration_seconds",
            "Time from a request's arrival at the app to the last byte of its answer.",
            ["method", "route"],
            buckets=HTTP_DURATION_BUCKETS,
            registry=self.registry,
        )

    @functools.cached_property
    def api_rate_limited(self) -> Counter:
        """Counted by the API's rate limits (`scheduler_api.limits`) at each 429."""
        return Counter(
            "scheduler_api_rate_limited",
            "API requests answered 429, by the limit exceeded: credential or auth_failures.",
            ["reason"],
            registry=self.registry,
        )

    @functools.cached_property
    def runs_dispatched(self) -> Counter:
        """Counted by `MeteredRunRepository` at each claim."""
        return Counter(
            "scheduler_runs_dispatched",
            "Runs this process claimed for dispatch (pending -> queued), by task type.",
            ["task_type"],
            registry=self.registry,
        )

    @functools.cached_property
    def runs_ended(self) -> Counter:
        """Counted by `MeteredRunRepository` at each end it stores."""
        return Counter(
            "scheduler_runs_ended",
            "Runs this process stored in a final status, by task type and status.",
            ["task_type", "status"],
            registry=self.registry,
        )

    @functools.cached_property
    def runs_retried(self) -> Counter:
        """Counted by `MeteredRunRepository` at each retry it stores."""
        return Counter(
            "scheduler_runs_retried",
            "Attempts this process stored for a run whose previous attempt failed, by task type.",
            ["task_type"],
            registry=self.registry,
        )

    @functools.cached_property
    def run_duration(self) -> Histogram:
        """Observed by `MeteredRunRepository` at each end of a run that started."""
        return Histogram(
            "scheduler_run_duration_seconds",
            "From a run's start to its end, for runs that started, by task type and final status.",
            ["task_type", "status"],
            buckets=RUN_DURATION_BUCKETS,
            registry=self.registry,
        )

    def watch_pool(self, stats: Callable[[], Mapping[str, int]]) -> None:
        """Show the database pool's figures, read from `stats` at each scrape (see `PoolCollector`)."""
        self.registry.register(PoolCollector(stats))

    def watch_key_lookups(self, lookups: Callable[[], Mapping[str, int]]) -> None:
        """Show `scheduler_api_key_lookups_total{found=cached|read}`, read from `lookups` at each scrape."""
        self.registry.register(_KeyLookups(lookups))

    @functools.cached_property
    def circuit_breakers(self) -> CircuitBreakerStates:
        """The state of the circuit breakers `watch`ed in it, read at each scrape (registered on first
        use: only a process with breakers shows them)."""
        states = CircuitBreakerStates()
        self.registry.register(states)
        return states

    @functools.cached_property
    def cluster_state(self) -> ClusterState:
        """The state gauges, registered here on first use: only a process that serves them shows them."""
        return ClusterState(self.registry)

    def exposition(self) -> bytes:
        """Every metric of this process, in Prometheus text format (`MEDIA_TYPE`, UTF-8)."""
        return generate_latest(self.registry)


class ClusterState:
    """The state gauges: counts read from the shared store at each scrape, the same in every process.

    Registered by the process that serves them (the API's `/metrics`): see `Metrics.cluster_state`.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self._runs = Gauge(
            "scheduler_runs",
            "Runs not yet ended, by status, in the whole cluster (read from the store at scrape).",
            ["status"],
            registry=registry,
        )
        self._tasks = Gauge(
            "scheduler_tasks",
            "Tasks by status, in the whole cluster (read from the store at scrape).",
            ["status"],
            registry=registry,
        )
        self._workers = Gauge(
            "scheduler_workers",
            "Registered workers by status (read from the store at scrape).",
            ["status"],
            registry=registry,
        )
        self._worker_slots = Gauge(
            "scheduler_worker_slots",
            "Run slots of the online workers: `total` they offer, `busy` with runs at their last heartbeat.",
            ["state"],
            registry=registry,
        )
        self._store_readable = Gauge(
            "scheduler_store_readable",
            "1 when the last scrape read the state gauges from the store, 0 when it could not.",
            registry=registry,
        )

    def show(
        self,
        *,
        runs: Mapping[str, int],
        tasks: Mapping[str, int],
        workers: Mapping[str, int],
        slots: int,
        busy_slots: int,
    ) -> None:
        """Set the state gauges to counts read from the store, by status."""
        _set_all(self._runs, runs)
        _set_all(self._tasks, tasks)
        _set_all(self._workers, workers)
        self._worker_slots.labels("total").set(slots)
        self._worker_slots.labels("busy").set(busy_slots)
        self._store_readable.set(1)

    def hide(self) -> None:
        """Leave the state gauges out of the exposition: the store could not be read."""
        for gauge in (self._runs, self._tasks, self._workers, self._worker_slots):
            gauge.clear()
        self._store_readable.set(0)


class PoolCollector(Collector):
    """The PostgreSQL pool of the process, from psycopg_pool's figures (`PostgresDatabase.pool_stats`)."""

    def __init__(self, stats: Callable[[], Mapping[str, int]]) -> None:
        self._stats = stats

    def collect(self) -> Iterable[Metric]:
        """The figures now; nothing when the pool cannot say (it is closing)."""
        try:
            stats = self._stats()
        except Exception:  # a scrape must not fail with the pool
            return []
        size, idle = stats.get("pool_size", 0), stats.get("pool_available", 0)
        connections = GaugeMetricFamily(
            "scheduler_db_pool_connections", "Connections the pool holds, by state.", labels=["state"]
        )
        connections.add_metric(["idle"], idle)
        connections.add_metric(["in_use"], size - idle)
        return [
            connections,
            GaugeMetricFamily(
                "scheduler_db_pool_max_connections",
                "The most connections the pool may open.",
                value=stats.get("pool_max", 0),
            ),
            GaugeMetricFamily(
                "scheduler_db_pool_waiting",
                "Requests waiting for a connection now.",
                value=stats.get("requests_waiting", 0),
            ),
            CounterMetricFamily(
                "scheduler_db_pool_requests",
                "Connections asked of the pool since start.",
                value=stats.get("requests_num", 0),
            ),
            CounterMetricFamily(
                "scheduler_db_pool_wait_seconds",
                "Time requests spent waiting for a connection, in all.",
                value=stats.get("requests_wait_ms", 0) / 1000,
            ),
            CounterMetricFamily(
                "scheduler_db_pool_errors",
                "Requests that got no connection, and connections that failed to open or were lost.",
                value=sum(stats.get(name, 0) for name in _POOL_ERRORS),
            ),
        ]


_POOL_ERRORS = ("requests_errors", "connections_errors", "connections_lost")


class CircuitBreakerView(Protocol):
    """What the metrics read of a circuit breaker (`scheduler_infrastructure.breaker.CircuitBreaker`)."""

    @property
    def component(self) -> str:
        """The service it guards: `postgresql`, `redis`, `rabbitmq`."""

    @property
    def state(self) -> int:
        """0 closed, 1 open, 2 half-open."""

    @property
    def times_opened(self) -> int:
        """How many times it opened since the process started."""


class CircuitBreakerStates(Collector):
    """`scheduler_circuit_breaker_state` and `scheduler_circuit_breaker_opened_total`, by component,
    read from the breakers at each scrape."""

    def __init__(self) -> None:
        self._breakers: list[CircuitBreakerView] = []

    def watch(self, breaker: CircuitBreakerView) -> None:
        """Show `breaker` from the next scrape on."""
        self._breakers.append(breaker)

    def collect(self) -> Iterable[Metric]:
        """The breakers' state now."""
        state = GaugeMetricFamily(
            "scheduler_circuit_breaker_state",
            "The circuit breaker of each backing service: 0 closed (calls go through), 1 open (they fail "
            "at once), 2 half-open (a trial call may go through).",
            labels=["component"],
        )
        opened = CounterMetricFamily(
            "scheduler_circuit_breaker_opened",
            "Times each circuit breaker opened (from closed) since the process started.",
            labels=["component"],
        )
        for breaker in list(self._breakers):
            state.add_metric([breaker.component], int(breaker.state))
            opened.add_metric([breaker.component], breaker.times_opened)
        return [state, opened]


class _KeyLookups(Collector):
    def __init__(self, lookups: Callable[[], Mapping[str, int]]) -> None:
        self._lookups = lookups

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily(
            "scheduler_api_key_lookups",
            "API keys presented, by where they were found: `cached` (this process remembered the key) or "
            "`read` (from the store).",
            labels=["found"],
        )
        for found, count in self._lookups().items():
            family.add_metric([found], count)
        return [family]


def _set_all(gauge: Gauge, values: Mapping[str, int]) -> None:
    for label, value in values.items():
        gauge.labels(label).set(value)
