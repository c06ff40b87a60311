"""The exchange and queues of the RabbitMQ message queue, and how they are declared."""

from __future__ import annotations

from typing import Any

from aio_pika.abc import AbstractRobustChannel, AbstractRobustQueue

from scheduler_infrastructure.memory.queue import DEAD_LETTER_PREFIX


class Topology:
    """One durable topic exchange; per routing key a durable queue bound under that key.

    A queue `<namespace><key>` has `x-max-priority` and a dead-letter exchange (the same one,
    under `dead_letter.<key>`) for what is rejected, so the queue of that name receives it. A
    dead-letter queue has no dead-letter queue of its own: a dead letter refused again is dropped.
    """

    def __init__(self, *, namespace: str, exchange: str, max_priority: int) -> None:
        self._namespace = namespace
        self.exchange = f"{namespace}{exchange}"
        self.max_priority = max_priority

    def priority(self, priority: int) -> int:
        """The AMQP priority a message of `priority` is sent with."""
        return min(max(priority, 0), self.max_priority)

    def queue_name(self, routing_key: str) -> str:
        """The name of the queue that holds `routing_key`'s messages."""
        return f"{self._namespace}{routing_key}"

    async def declare(self, channel: AbstractRobustChannel, routing_key: str) -> AbstractRobustQueue:
        """Declare (idempotently) the queue of `routing_key` and its dead-letter queue."""
        arguments: dict[str, Any] = {"x-max-priority": self.max_priority}
        if not routing_key.startswith(DEAD_LETTER_PREFIX):
            dead_letter_key = DEAD_LETTER_PREFIX + routing_key
            await self.declare(channel, dead_letter_key)
            arguments["x-dead-letter-exchange"] = self.exchange
            arguments["x-dead-letter-routing-key"] = dead_letter_key
        queue = await channel.declare_queue(self.queue_name(routing_key), durable=True, arguments=arguments)
        await queue.bind(self.exchange, routing_key)
        return queue
