"""The container of `scheduler worker`: kept apart, so a worker loads no API and no database code."""

from __future__ import annotations

from dependency_injector import containers, providers

from scheduler_app import resources
from scheduler_app.containers.basics import Core, Executors
from scheduler_app.containers.messaging import BrokerMessaging
from scheduler_app.metrics import metered_reporter, worker_metrics, worker_reporting
from scheduler_config import AppConfig
from scheduler_worker import QueueRunReporter, Worker


class WorkerContainer(containers.DeclarativeContainer):
    """`scheduler worker`: a broker, the executors, and the API for registration; no database.

    With `worker.metrics_port` set, the worker reports through a reporter that counts its runs in
    `metrics`, which also show the broker's circuit breaker; without, neither is built and no
    metrics library is loaded.
    """

    config = providers.Dependency(instance_of=AppConfig)
    core = providers.Container(Core, config=config)
    metrics = providers.Singleton(worker_metrics, slots=config.provided.worker.concurrency)
    served_metrics = providers.Selector(
        providers.Callable(worker_reporting, config.provided.worker.metrics_port),
        metered=metrics.provided.metrics,
        plain=providers.Object(None),
    )
    messaging = providers.Container(BrokerMessaging, config=config, metrics=served_metrics)
    executors = providers.Container(Executors, config=config)
    presence = providers.Resource(resources.worker_presence, config)
    queue_reporter = providers.Singleton(QueueRunReporter, queue=messaging.queue, clock=core.clock)
    reporter = providers.Selector(
        providers.Callable(worker_reporting, config.provided.worker.metrics_port),
        metered=providers.Singleton(metered_reporter, queue_reporter, metrics),
        plain=queue_reporter,
    )
    worker = providers.Singleton(
        Worker,
        worker_id=config.provided.worker.worker_id,
        queue=messaging.queue,
        reporter=reporter,
        executors=executors.registry,
        task_types=config.provided.worker.task_types,
        concurrency=config.provided.worker.concurrency,
        drain_grace_seconds=config.provided.worker.drain_grace_seconds,
        tracer=core.tracer,
    )
