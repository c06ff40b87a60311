"""Messaging containers: the queue that carries runs and commands."""

from __future__ import annotations

from dependency_injector import containers, providers

from scheduler_app import resources
from scheduler_app.containers.breakers import broker_component, circuit_breaker
from scheduler_config import AppConfig


class InProcessMessaging(containers.DeclarativeContainer):
    """The in-process queue of `standalone`."""

    queue = providers.Resource(resources.in_process_queue)


class BrokerMessaging(containers.DeclarativeContainer):
    """Redis Streams or RabbitMQ, chosen by `queue.url`, its calls through a circuit breaker.

    `metrics`: the process's metrics, which show the breaker, or None when it serves none (not
    checked by type: a worker that serves no metrics loads no metrics library).
    """

    config = providers.Dependency(instance_of=AppConfig)
    metrics: providers.Dependency[object] = providers.Dependency(default=providers.Object(None))
    breaker = providers.Singleton(
        circuit_breaker, providers.Callable(broker_component, config.provided.queue.url), config, metrics
    )
    queue = providers.Resource(resources.broker_queue, config, breaker)
