"""Keeping a worker registered: register at start, heartbeat with the current load, leave at stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from scheduler_domain import WorkerInfo, WorkerStatus
from scheduler_errors import NotFound, PermissionDenied, Unauthenticated, Unavailable
from scheduler_foundation import WorkerPresence

logger = logging.getLogger(__name__)

#: The longest pause between two attempts to reach an API that does not answer.
MAX_RETRY_SECONDS = 30.0


class PresenceKeeper:
    """A Service that keeps the scheduler informed that this worker is alive.

    An API that does not answer is retried with backoff while the worker keeps working; a
    refused credential (`Unauthenticated`, `PermissionDenied`) ends `run()` with that error, so
    the process stops and says why.
    """

    name = "presence"

    def __init__(
        self,
        *,
        presence: WorkerPresence,
        worker: WorkerInfo,
        load: Callable[[], int],
        interval_seconds: float = 5.0,
    ) -> None:
        self._presence = presence
        self._worker = worker
        self._load = load
        self._interval = interval_seconds
        self._stopping = asyncio.Event()
        self.registered = asyncio.Event()

    async def check_in(self) -> None:
        """Try to register once, before anything else starts.

        A refused credential raises at once (so the process can stop before it takes work); an
        API that does not answer is left to `run()`, which keeps retrying.
        """
        try:
            await self._presence.register(self._worker)
        except Unavailable as exc:
            logger.warning("the API does not answer yet; registering later", extra={"error": str(exc)})
        else:
            logger.info("worker registered", extra={"worker_id": self._worker.id})
            self.registered.set()

    async def run(self) -> None:
        """Register (unless checked in), beat every interval until `stop()`, then deregister."""
        if not self.registered.is_set():
            await self._register()
        while not await self._stopped_within(self._interval):
            await self._beat()
        await self._leave()

    def stop(self) -> None:
        """Deregister and return from `run()`."""
        self._stopping.set()

    async def _register(self) -> None:
        delay = 0.5
        while not self._stopping.is_set():
            try:
                await self._presence.register(self._worker)
            except Unavailable as exc:
                logger.warning("cannot register yet, retrying", extra={"error": str(exc), "retry_in": delay})
                if await self._stopped_within(delay):
                    return
                delay = min(delay * 2, MAX_RETRY_SECONDS)
            else:
                logger.info("worker registered", extra={"worker_id": self._worker.id})
                self.registered.set()
                return

    async def _beat(self) -> None:
        try:
            await self._presence.heartbeat(self._worker.id, current_task_count=self._load())
        except NotFound:
            logger.warning(
                "the scheduler forgot this worker; registering again", extra={"worker_id": self._worker.id}
            )
            await self._register()
        except Unavailable as exc:
            logger.warning("heartbeat not delivered; the worker keeps working", extra={"error": str(exc)})

    async def _leave(self) -> None:
        if not self.registered.is_set():
            return
        try:
            await self._presence.heartbeat(
                self._worker.id, current_task_count=self._load(), status=WorkerStatus.DRAINING
            )
            await self._presence.deregister(self._worker.id)
        except (Unavailable, NotFound, Unauthenticated, PermissionDenied) as exc:
            logger.warning("could not deregister", extra={"error": str(exc)})

    async def _stopped_within(self, seconds: float) -> bool:
        try:
            async with asyncio.timeout(seconds):
                await self._stopping.wait()
        except TimeoutError:
            return False
        return True
