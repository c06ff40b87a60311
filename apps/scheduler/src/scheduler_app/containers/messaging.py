"""Messaging containers: the queue that carries runs and commands."""

from __future__ import annotations

from dependency_injector import containers, providers

from scheduler_app import resources
from scheduler_config import AppConfig


class InProcessMessaging(containers.DeclarativeContainer):
    """The in-process queue of `standalone`."""

    queue = providers.Resource(resources.in_process_queue)


class BrokerMessaging(containers.DeclarativeContainer):
    """Redis Streams or RabbitMQ, chosen by `queue.url`."""

    config = providers.Dependency(instance_of=AppConfig)
    queue = providers.Resource(resources.broker_queue, config)
