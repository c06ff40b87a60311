"""`scheduler worker`: a worker process that reaches the scheduler through the API and the broker."""

from __future__ import annotations

import logging
import socket

from scheduler_app.containers.basics import open_in_order, provide, settle
from scheduler_app.containers.worker import WorkerContainer
from scheduler_app.metrics import serving
from scheduler_app.reloading import SettingsReload
from scheduler_app.services import run_until_stopped
from scheduler_config import AppConfig, redact_url
from scheduler_domain import TaskType, WorkerInfo
from scheduler_errors import InvalidInput
from scheduler_foundation import Service
from scheduler_worker import PresenceKeeper, Worker

logger = logging.getLogger(__name__)


async def run_worker(config: AppConfig, *, reload: SettingsReload | None = None) -> None:
    """Register, take runs of the configured task types, report them; stop on SIGINT or SIGTERM,
    reload the settings on SIGHUP (through `reload`)."""
    container = WorkerContainer(config=config)
    try:
        await open_in_order(container.messaging.queue, container.presence)
        worker: Worker = await provide(container.worker)
        keeper = PresenceKeeper(
            presence=await provide(container.presence),
            worker=describe(config),
            load=lambda: worker.current_task_count,
            interval_seconds=config.worker.heartbeat_interval_seconds,
        )
        services: list[Service] = [keeper, worker]
        if config.worker.metrics_port:  # before registering: a taken port leaves no worker online
            services.append(await _metrics_endpoint(container, worker, config))
        await keeper.check_in()
        logger.info(
            "scheduler worker starting",
            extra={
                "worker_id": config.worker.worker_id,
                "api": config.worker.api_url,
                "queue": redact_url(config.queue.url),
            },
        )
        await run_until_stopped(services, reload=reload)
    finally:
        await settle(container.shutdown_resources())
    logger.info("scheduler worker stopped")


async def _metrics_endpoint(container: WorkerContainer, worker: Worker, config: AppConfig) -> Service:
    """The worker's metrics endpoint, listening already, showing the runs `worker` holds."""
    metrics = await provide(container.metrics)
    metrics.watch(lambda: worker.current_task_count)
    host, port = config.worker.metrics_host, config.worker.metrics_port
    return serving(metrics.metrics, setting="worker.metrics_port", host=host, port=port)


def describe(config: AppConfig) -> WorkerInfo:
    """This worker as the API records it."""
    settings = config.worker
    try:
        task_types = tuple(TaskType(name) for name in settings.task_types)
    except ValueError as exc:
        raise InvalidInput.for_field(
            "worker.task_types", f"{exc}; known: shell, http, python, custom"
        ) from exc
    hostname = socket.gethostname()
    return WorkerInfo(
        id=settings.worker_id,
        hostname=hostname,
        ip_address=_address_of(hostname),
        task_types=task_types,
        max_concurrent_tasks=settings.concurrency,
    )


def _address_of(hostname: str) -> str:
    try:
        return socket.gethostbyname(hostname)
    except OSError:
        return "127.0.0.1"
