"""One container per process kind, assembled from the shared parts."""

from __future__ import annotations

from dependency_injector import containers, providers

from scheduler_app.containers.basics import Core, Executors
from scheduler_app.containers.messaging import BrokerMessaging, InProcessMessaging
from scheduler_app.containers.parts import Roles, UseCases
from scheduler_app.containers.storage import PostgresStorage, SqliteStorage
from scheduler_config import AppConfig
from scheduler_observability.metrics import Metrics


class StandaloneContainer(containers.DeclarativeContainer):
    """Everything in one process: SQLite, the in-process queue, API, dispatcher and worker."""

    config = providers.Dependency(instance_of=AppConfig)
    core = providers.Container(Core, config=config)
    metrics = providers.Singleton(Metrics)
    storage = providers.Container(SqliteStorage, config=config, metrics=metrics)
    messaging = providers.Container(InProcessMessaging)
    executors = providers.Container(Executors, config=config)
    use_cases = providers.Container(
        UseCases, core=core, storage=storage, messaging=messaging, executors=executors
    )
    roles = providers.Container(
        Roles,
        core=core,
        storage=storage,
        messaging=messaging,
        executors=executors,
        use_cases=use_cases,
        metrics=metrics,
    )


class ClusterContainer(containers.DeclarativeContainer):
    """A process of a cluster (`scheduler api`, `scheduler dispatcher`): PostgreSQL and a broker."""

    config = providers.Dependency(instance_of=AppConfig)
    core = providers.Container(Core, config=config)
    metrics = providers.Singleton(Metrics)
    storage = providers.Container(PostgresStorage, config=config, metrics=metrics)
    messaging = providers.Container(BrokerMessaging, config=config, metrics=metrics)
    executors = providers.Container(Executors, config=config)
    use_cases = providers.Container(
        UseCases, core=core, storage=storage, messaging=messaging, executors=executors
    )
    roles = providers.Container(
        Roles,
        core=core,
        storage=storage,
        messaging=messaging,
        executors=executors,
        use_cases=use_cases,
        metrics=metrics,
    )
