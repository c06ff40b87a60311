"""Resources with a lifetime: opened when a container starts, closed when it stops."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import scheduler_infrastructure as adapters
from scheduler_config import AppConfig
from scheduler_errors import InvalidInput
from scheduler_foundation import MessageQueue

if TYPE_CHECKING:  # adapters load on first use: a worker never loads the database drivers
    from scheduler_infrastructure import (
        HttpWorkerPresence,
        InMemoryMessageQueue,
        PostgresDatabase,
        PostgresWakeup,
        SqliteDatabase,
    )
    from scheduler_infrastructure.breaker import CircuitBreaker


async def sqlite_database(config: AppConfig) -> AsyncIterator[SqliteDatabase]:
    """The embedded database, migrated to the current schema."""
    db = await adapters.SqliteDatabase.open(config.sqlite_path)
    try:
        await adapters.migrate_sqlite(db)
        yield db
    finally:
        await db.close()


async def postgres_database(
    config: AppConfig, breaker: CircuitBreaker | None = None
) -> AsyncIterator[PostgresDatabase]:
    """The shared database, its calls through `breaker`; `SchemaNotCurrent` (run `scheduler
    migrate`) unless it is migrated."""
    db = await open_postgres(config, breaker=breaker)
    try:
        await adapters.check_postgres_schema(db)
        yield db
    finally:
        await db.close()


async def open_postgres(config: AppConfig, *, breaker: CircuitBreaker | None = None) -> PostgresDatabase:
    """A pool on the configured PostgreSQL database, sized and timed by the settings."""
    settings = config.database
    return await adapters.PostgresDatabase.open(
        settings.url,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        connect_timeout=settings.connect_timeout_seconds,
        statement_timeout=settings.statement_timeout_seconds,
        breaker=breaker,
    )


async def postgres_wakeup(db: PostgresDatabase) -> AsyncIterator[PostgresWakeup]:
    """Dispatch wake-ups through LISTEN/NOTIFY."""
    wakeup = adapters.PostgresWakeup(db=db)
    try:
        yield wakeup
    finally:
        await wakeup.close()


async def in_process_queue() -> AsyncIterator[InMemoryMessageQueue]:
    """The in-process message queue."""
    queue = adapters.InMemoryMessageQueue()
    try:
        yield queue
    finally:
        await queue.close()


async def broker_queue(
    config: AppConfig, breaker: CircuitBreaker | None = None
) -> AsyncIterator[MessageQueue]:
    """Redis Streams for `redis://` and `rediss://`, RabbitMQ for `amqp://` and `amqps://`; its
    calls through `breaker`."""
    queue = await connect_broker(config.queue.url, namespace=config.queue.namespace, breaker=breaker)
    try:
        yield queue
    finally:
        await queue.close()


async def connect_broker(
    url: str, *, namespace: str = "", breaker: CircuitBreaker | None = None
) -> MessageQueue:
    """The broker at `url`; `InvalidInput` for a scheme no adapter serves."""
    scheme = url.split("://", 1)[0].lower()
    if scheme in ("redis", "rediss"):
        return await adapters.RedisStreamsQueue.connect(url, namespace=namespace, breaker=breaker)
    if scheme in ("amqp", "amqps"):
        return await adapters.RabbitMQQueue.connect(url, namespace=namespace, breaker=breaker)
    raise InvalidInput.for_field(
        "queue.url", f"{scheme}:// is not a broker: use redis://, amqp:// or memory://"
    )


async def worker_presence(config: AppConfig) -> AsyncIterator[HttpWorkerPresence]:
    """The API client through which a worker process registers and heartbeats."""
    presence = adapters.HttpWorkerPresence.connect(config.worker.api_url, config.worker.api_key)
    try:
        yield presence
    finally:
        await presence.close()
