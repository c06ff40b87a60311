"""A message handed out by the RabbitMQ queue."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aio_pika.abc import AbstractIncomingMessage

from scheduler_domain import Message

#: The header counting how many times a message was handed out before it was (re)published.
DELIVERIES_HEADER = "x-scheduler-deliveries"


def deliveries_before(incoming: AbstractIncomingMessage) -> int:
    """How many times `incoming` was handed out before this copy was published."""
    value = (incoming.headers or {}).get(DELIVERIES_HEADER, 0)
    return value if isinstance(value, int) else 0


class RabbitMQDelivery:
    """One message handed to one consumer; ack or nack it exactly once."""

    def __init__(
        self,
        *,
        incoming: AbstractIncomingMessage,
        message: Message,
        settle: Callable[[RabbitMQDelivery, bool | None], Awaitable[None]],
    ) -> None:
        self.incoming = incoming
        self._message = message
        self._settle = settle
        self._done = False

    @property
    def message(self) -> Message:
        """The decoded message."""
        return self._message

    @property
    def routing_key(self) -> str:
        """The queue it came from."""
        return self.incoming.routing_key or ""

    @property
    def delivery_count(self) -> int:
        """How many times the message has been handed out, this delivery included."""
        return deliveries_before(self.incoming) + 1

    async def ack(self) -> None:
        """Done with it: the broker forgets the message."""
        await self._finish(None)

    async def nack(self, *, requeue: bool) -> None:
        """Give the message back (`requeue`; dead-lettered after `max_deliveries`), or dead-letter it."""
        await self._finish(requeue)

    async def _finish(self, requeue: bool | None) -> None:
        if self._done:
            raise RuntimeError(f"message {self._message.id} was already acked or nacked")
        self._done = True
        await self._settle(self, requeue)
