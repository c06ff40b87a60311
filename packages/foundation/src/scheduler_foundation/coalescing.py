"""Natural batching: what is submitted while one flush is in flight goes out in the next, together."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")

#: Sends a batch; returns one error (or None) per item, or raises to fail the whole batch.
Flush = Callable[[list[T]], Awaitable[Sequence[BaseException | None] | None]]


class Coalescer(Generic[T]):
    """Sends items through `flush` in batches, adding no delay of its own.

    The first item submitted to an idle coalescer is flushed at once, alone; items submitted
    while that flush is in flight wait and go out together in the next one (at most
    `max_batch` at a time). So a lone item costs one round trip, as without batching, and under
    load the round trips are shared. `submit` returns once the flush that carried its item
    succeeded for it, and raises the error it met otherwise. A submitter that is cancelled
    meanwhile does not recall its item: the flush may still carry it.
    """

    def __init__(self, flush: Flush[T], *, max_batch: int = 256) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._flush = flush
        self._max_batch = max_batch
        self._waiting: list[tuple[T, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> None:
        """Send `item` in the next flush and wait until it is through."""
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((item, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_waiting(), name="coalescer-flush")
        await done

    async def drain(self) -> None:
        """Return once every item submitted so far was flushed (or failed)."""
        while self._flusher is not None and not self._flusher.done():
            await asyncio.shield(self._flusher)

    async def _flush_waiting(self) -> None:
        while self._waiting:
            batch = self._waiting[: self._max_batch]
            del self._waiting[: self._max_batch]
            try:
                errors = await self._flush([item for item, _ in batch])
            except Exception as exc:  # the whole batch failed: every submitter hears why
                errors = [exc] * len(batch)
            except asyncio.CancelledError:  # the loop is going away: no submitter waits forever
                for _, done in batch + self._waiting:
                    done.cancel()
                self._waiting.clear()
                raise
            for (_, done), error in zip(batch, errors or [None] * len(batch), strict=True):
                if done.done():  # its submitter was cancelled
                    continue
                if error is None:
                    done.set_result(None)
                else:
                    done.set_exception(error)
