"""`scheduler api` and `scheduler dispatcher`: one role per process, on PostgreSQL and a broker."""

from __future__ import annotations

import logging

from scheduler_app.alerting import reload_alerts
from scheduler_app.containers.basics import open_in_order, provide, settle
from scheduler_app.containers.parts import reload_api_limits
from scheduler_app.containers.processes import ClusterContainer
from scheduler_app.metrics import serving
from scheduler_app.reloading import SettingsReload
from scheduler_app.services import run_until_stopped
from scheduler_config import AppConfig, redact_url

logger = logging.getLogger(__name__)


async def run_role(role: str, config: AppConfig, *, reload: SettingsReload | None = None) -> None:
    """Serve `role` (`api` or `dispatcher`) until SIGINT or SIGTERM, reloading the settings on
    SIGHUP (through `reload`)."""
    container = ClusterContainer(config=config)
    try:
        await open_in_order(container.storage.database, container.storage.wakeup, container.messaging.queue)
        database = await provide(container.storage.database)
        container.metrics().watch_pool(database.pool_stats)
        roles = container.roles
        if role == "api" and config.admin_api_key:
            await (await provide(container.use_cases.access)).ensure_admin_key(config.admin_api_key)
        if role == "api":
            access = await provide(container.use_cases.access)
            container.metrics().watch_key_lookups(lambda: access.key_lookups)
            key_changes = container.storage.key_changes(db=database, on_change=access.forget_key)
            services = [await provide(roles.api_server), key_changes]
            if reload is not None:
                reload_api_limits(reload, await provide(roles.rate_limiter))
            if not config.api.jwt_secret:
                logger.warning(
                    "api.jwt_secret is not set: a token from POST /api/v1/auth/token works only on "
                    "this API process, until it stops; give every API process the same secret"
                )
        else:  # the dispatcher also applies the workers' status reports, competing with its peers
            dispatcher = await provide(roles.dispatcher)
            services = [dispatcher, await provide(roles.status_applier)]
            if reload is not None:
                reload_alerts(reload, await provide(container.use_cases.alerts), dispatcher)
            if port := config.dispatcher.metrics_port:  # listening now: a taken port stops the start
                host = config.dispatcher.metrics_host
                services.append(
                    serving(container.metrics(), setting="dispatcher.metrics_port", host=host, port=port)
                )
        logger.info(
            f"scheduler {role} starting",
            extra={"database": redact_url(config.database.url), "queue": redact_url(config.queue.url)},
        )
        await run_until_stopped(services, reload=reload)
    finally:
        await settle(container.shutdown_resources())
    logger.info(f"scheduler {role} stopped")
