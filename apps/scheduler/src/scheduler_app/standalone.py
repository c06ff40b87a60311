"""`scheduler standalone`: API, dispatcher and worker in one process on SQLite."""

from __future__ import annotations

import logging
from typing import TextIO

from scheduler_app.alerting import reload_alerts
from scheduler_app.containers.basics import open_in_order, provide, settle
from scheduler_app.containers.parts import reload_api_limits
from scheduler_app.containers.processes import StandaloneContainer
from scheduler_app.data_dir_lock import exclusive_data_dir
from scheduler_app.reloading import SettingsReload
from scheduler_app.services import run_until_stopped
from scheduler_app.worker_process import describe
from scheduler_application import AccessControl, LocalWorkerPresence
from scheduler_config import AppConfig
from scheduler_worker import PresenceKeeper, Worker

logger = logging.getLogger(__name__)


async def run_standalone(config: AppConfig, *, out: TextIO, reload: SettingsReload | None = None) -> None:
    """Serve until SIGINT or SIGTERM, reloading the settings on SIGHUP (through `reload`); state
    lives in `config.data_dir`.

    `Conflict` when another standalone process serves the same database file.
    """
    with exclusive_data_dir(config.sqlite_path.parent):
        await _serve(config, out=out, reload=reload)


async def _serve(config: AppConfig, *, out: TextIO, reload: SettingsReload | None) -> None:
    container = StandaloneContainer(config=config)
    try:
        await open_in_order(container.storage.database, container.messaging.queue)
        access = await provide(container.use_cases.access)
        await announce_admin_key(access, config, out)
        container.metrics().watch_key_lookups(lambda: access.key_lookups)
        roles = container.roles
        server = await provide(roles.api_server)
        worker: Worker = await provide(roles.worker)
        # The worker in this process is registered and heartbeats like a separate one: it is
        # listed at /api/v1/workers, and if this process dies its runs are recovered once it
        # has been silent for dispatcher.worker_timeout_seconds, by the next process's sweep.
        keeper = PresenceKeeper(
            presence=LocalWorkerPresence(await provide(container.use_cases.workers)),
            worker=describe(config),
            load=lambda: worker.current_task_count,
            interval_seconds=config.worker.heartbeat_interval_seconds,
        )
        await keeper.check_in()
        dispatcher = await provide(roles.dispatcher)
        services = [server, dispatcher, keeper, worker]
        logger.info(
            "scheduler standalone starting",
            extra={"url": f"http://{server.host}:{server.port}", "database": str(config.sqlite_path)},
        )
        if reload is not None:
            reload_api_limits(reload, await provide(roles.rate_limiter))
            reload_alerts(reload, await provide(container.use_cases.alerts), dispatcher)
        await run_until_stopped(services, reload=reload)
    finally:
        await settle(container.shutdown_resources())
    logger.info("scheduler standalone stopped")


async def announce_admin_key(access: AccessControl, config: AppConfig, out: TextIO) -> None:
    """Make the configured admin key usable, or create one on first start and print it once."""
    if config.admin_api_key:
        await access.ensure_admin_key(config.admin_api_key)
        return
    issued = await access.bootstrap_admin_key()
    if issued is not None:
        out.write(
            f"Created the admin API key (shown once, store it now): {issued.secret}\n"
            "Use it as `X-API-Key: <key>`; create more with `scheduler apikey create`.\n"
        )
        out.flush()
