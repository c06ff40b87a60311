"""The publishing side of the RabbitMQ queue: one channel with publisher confirms."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aio_pika
from aio_pika.abc import AbstractExchange, AbstractIncomingMessage, AbstractRobustChannel, AbstractRobustQueue

from scheduler_domain import Message
from scheduler_infrastructure.rabbitmq._errors import CONNECTION_LOST, translated
from scheduler_infrastructure.rabbitmq._topology import Topology
from scheduler_infrastructure.rabbitmq.delivery import DELIVERIES_HEADER

logger = logging.getLogger(__name__)


def outgoing(body: bytes, message: Message, priority: int) -> aio_pika.Message:
    """A new message as the broker carries it: persistent, prioritised, not yet delivered."""
    return aio_pika.Message(
        body,
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        priority=priority,
        message_id=message.id,
        correlation_id=message.correlation_id,
        timestamp=message.timestamp,
        type=message.message_type,
        headers={DELIVERIES_HEADER: 0},
    )


class ConfirmedPublisher:
    """Publishes through the topology's exchange and returns once the broker confirmed.

    Each routing key's queues are declared before its first message (so nothing published is
    unroutable), once per publisher; aio-pika declares them again after a reconnection.
    """

    def __init__(
        self,
        *,
        channel: AbstractRobustChannel,
        exchange: AbstractExchange,
        topology: Topology,
        timeout: float,
    ) -> None:
        self._channel = channel
        self._exchange = exchange
        self._topology = topology
        self._timeout = timeout
        self._declared: dict[str, AbstractRobustQueue] = {}
        self._declaring = asyncio.Lock()

    async def send(self, routing_key: str, message: aio_pika.Message) -> None:
        """Publish and wait for the confirmation, riding out a reconnection within the timeout.

        A publish that met a lost connection is sent again (the broker may hold it twice);
        `Unavailable` if the broker refuses it (nack, return) or the timeout passes.
        """
        with translated(f"publishing to {routing_key}"):
            async with asyncio.timeout(self._timeout):
                await self.queue(routing_key)
                while True:
                    await self._channel.ready()  # waits out a reconnection
                    try:
                        await self._exchange.publish(message, routing_key=routing_key, mandatory=True)
                    except CONNECTION_LOST as exc:  # not a refusal: try again once reconnected
                        logger.debug(
                            "publishing to %s met a lost connection (%r); retrying", routing_key, exc
                        )
                        await asyncio.sleep(0.05)
                        continue
                    return

    async def republish(
        self, incoming: AbstractIncomingMessage, deliveries: int, *, routing_key: str | None = None
    ) -> None:
        """Queue `incoming` again (under `routing_key`, default its own) with its delivery count
        set, then ack the original."""
        headers: dict[str, Any] = {**(incoming.headers or {}), DELIVERIES_HEADER: deliveries}
        copy = aio_pika.Message(
            incoming.body,
            content_type=incoming.content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            priority=incoming.priority,
            message_id=incoming.message_id,
            correlation_id=incoming.correlation_id,
            timestamp=incoming.timestamp,
            type=incoming.type,
            headers=headers,
        )
        await self.send(routing_key or incoming.routing_key or "", copy)
        await incoming.ack()

    async def queue(self, routing_key: str) -> AbstractRobustQueue:
        """The queue of `routing_key`, declared (with its dead-letter queue) on first use."""
        queue = self._declared.get(routing_key)
        if queue is None:
            async with self._declaring:
                queue = self._declared.get(routing_key)
                if queue is None:
                    await self._channel.ready()
                    queue = await self._topology.declare(self._channel, routing_key)
                    self._declared[routing_key] = queue
        return queue

    async def check(self) -> None:
        """Return once the broker answered on this channel; raises what aio-pika raised, or
        `TimeoutError` past the timeout (5 s at most)."""
        async with asyncio.timeout(min(self._timeout, 5.0)):
            channel = await self._channel.get_underlay_channel()
            await channel.exchange_declare(exchange=self._topology.exchange, passive=True)
