"""Running a process's services side by side until a signal or a failure stops them."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence

from scheduler_app.reloading import SettingsReload
from scheduler_foundation import Service

logger = logging.getLogger(__name__)


async def run_until_stopped(services: Sequence[Service], *, reload: SettingsReload | None = None) -> None:
    """Run every service; SIGINT or SIGTERM stops them all, and so does one that fails; SIGHUP
    reloads the settings through `reload`, when given.

    Returns once all of them have returned; re-raises the first failure.
    """
    loop = asyncio.get_running_loop()

    stopping: list[str] = []

    def stop_all(reason: str) -> None:
        if not stopping:
            logger.info("stopping", extra={"reason": reason})
        stopping.append(reason)
        for service in services:
            service.stop()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop_all, signal.Signals(sig).name)
    if reload is not None:
        loop.add_signal_handler(signal.SIGHUP, reload.reload)
    try:
        tasks = [asyncio.create_task(service.run(), name=service.name) for service in services]
        first_error: BaseException | None = None
        for finished in asyncio.as_completed(tasks):
            try:
                await finished
            except Exception as exc:
                if first_error is None:
                    first_error = exc
                    stop_all(f"a service failed: {exc}")
            else:
                stop_all("a service ended")
        if first_error is not None:
            raise first_error
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)
