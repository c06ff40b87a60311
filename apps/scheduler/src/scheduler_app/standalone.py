"""`scheduler standalone`: API, dispatcher and worker in one process on SQLite."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TextIO

from scheduler_app.containers import StandaloneContainer, provide
from scheduler_app.services import run_until_stopped
from scheduler_application import AccessControl
from scheduler_config import AppConfig

logger = logging.getLogger(__name__)


async def run_standalone(config: AppConfig, *, out: TextIO) -> None:
    """Serve until SIGINT or SIGTERM; state lives in `config.data_dir`."""
    container = StandaloneContainer(config=config)
    await _awaited(container.init_resources())
    try:
        await announce_admin_key(await provide(container.use_cases.access), config, out)
        roles = container.roles
        server = await provide(roles.api_server)
        services = [server, await provide(roles.dispatcher), await provide(roles.worker)]
        logger.info(
            "scheduler standalone starting",
            extra={"url": f"http://{server.host}:{server.port}", "database": str(config.sqlite_path)},
        )
        await run_until_stopped(services)
    finally:
        await _awaited(container.shutdown_resources())
    logger.info("scheduler standalone stopped")


async def _awaited(result: Awaitable[None] | None) -> None:
    """dependency-injector returns an awaitable only when the container has async resources."""
    if result is not None:
        await result


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
