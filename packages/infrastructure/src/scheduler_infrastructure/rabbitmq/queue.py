"""The message-queue port on RabbitMQ: a topic exchange, durable priority queues, publisher confirms."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import aio_pika
import msgspec
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractRobustChannel,
    AbstractRobustConnection,
    AbstractRobustQueue,
)
from aio_pika.exceptions import ChannelInvalidStateError

from scheduler_domain import Message, decode_message, encode_message
from scheduler_errors import InvalidInput, Unavailable
from scheduler_foundation import Clock, SystemClock
from scheduler_infrastructure.breaker import CircuitBreaker
from scheduler_infrastructure.memory.queue import DEAD_LETTER_PREFIX
from scheduler_infrastructure.rabbitmq._errors import (
    BROKER_ERRORS,
    SETTLE_ERRORS,
    is_outage,
    redacted,
    translated,
)
from scheduler_infrastructure.rabbitmq._publisher import ConfirmedPublisher, outgoing
from scheduler_infrastructure.rabbitmq._topology import Topology
from scheduler_infrastructure.rabbitmq.delivery import (
    RabbitMQDelivery,
    deliveries_before,
)

logger = logging.getLogger(__name__)

_CHANNEL_READY_TIMEOUT = 10.0


class _Consumer:
    """One `consume` call: its channel, what the broker pushed to it, how much it handed out."""

    def __init__(self) -> None:
        self.channel: AbstractRobustChannel | None = None
        self.subscriptions: list[tuple[AbstractRobustQueue, str]] = []
        self.inbox: asyncio.Queue[AbstractIncomingMessage | None] = asyncio.Queue()
        self.handed_out = 0
        self.stopped = False

    async def receive(self, incoming: AbstractIncomingMessage) -> None:
        """The broker's push (the prefetch bounds how many are unacked on the channel)."""
        self.inbox.put_nowait(incoming)


class RabbitMQQueue:
    """The `MessageQueue` port on RabbitMQ.

    Messages go through one durable topic exchange to one durable classic queue per routing key
    (see `Topology`), persistent, with their priority (`x-max-priority`), and `publish` returns
    only once the broker confirmed them. Each `consume` call has its own channel whose
    `basic_qos` prefetch is shared by its queues, so it never holds more than `prefetch`
    unacked messages.

    Classic queues do not count deliveries, so the queue does it in a header: a requeue
    republishes the message with the count raised and acks the original, and a message the
    broker redelivers (its consumer went away without settling it) is counted the same way
    before it is handed out again. Past `max_deliveries`, or on a nack without requeue, the
    message is republished to `dead_letter.<key>` with a fresh count (the queues' dead-letter
    exchange, which would carry the count over, takes what is rejected otherwise, such as an
    undecodable message). Expired messages are acked and dropped on receipt (a broker TTL would
    dead-letter them instead).

    The connection is robust: after the broker closes it, aio-pika reconnects every
    `reconnect_interval` seconds and restores channels, queues and consumers; `publish` waits
    for that up to `publish_timeout` seconds. Deliveries made before the loss can no longer be
    settled (`Unavailable`); the broker delivers those messages again.

    Publishes, `depth` and `ping` go through `breaker`: once the broker failed enough of them in a
    row (unreachable, or silent past `publish_timeout`), they fail at once with `CircuitOpen`
    until a trial call succeeds. A refusal by the broker (a nack, a return) is not counted.
    Settling is not guarded: an ack waits for no answer (it fails at once when its channel is
    gone), and one refused while its channel lives would leave the message unacknowledged there
    until the channel closes. Nor are subscribing and the pushes, which aio-pika restores.
    """

    def __init__(
        self,
        *,
        connection: AbstractRobustConnection,
        publisher: ConfirmedPublisher,
        topology: Topology,
        max_deliveries: int = 5,
        clock: Clock | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        """Use `connect`; `publisher` publishes on its own channel of `connection`. Without a
        `breaker`, every call goes to the broker."""
        if max_deliveries < 1:
            raise InvalidInput.for_field("max_deliveries", "must be at least 1")
        self._connection = connection
        self._publisher = publisher
        self._topology = topology
        self._max_deliveries = max_deliveries
        self._clock = clock or SystemClock()
        self._breaker = breaker or CircuitBreaker("rabbitmq", failure_threshold=0)
        self._consumers: set[_Consumer] = set()
        self._background: set[asyncio.Task[None]] = set()
        self._closed = False

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        exchange: str = "scheduler",
        namespace: str = "",
        connection_name: str = "scheduler",
        max_priority: int = 3,
        max_deliveries: int = 5,
        reconnect_interval: float = 1.0,
        publish_timeout: float = 10.0,
        clock: Clock | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> RabbitMQQueue:
        """A queue on the broker at `url`; `Unavailable` if it does not answer.

        `connection_name` shows in the broker's connection list; `namespace` prefixes the
        exchange and queue names.
        """
        if not 1 <= max_priority <= 255:
            raise InvalidInput.for_field("max_priority", "must be between 1 and 255")
        topology = Topology(namespace=namespace, exchange=exchange, max_priority=max_priority)
        with translated(f"connecting to {redacted(url)}"):
            connection = await aio_pika.connect_robust(
                url,
                client_properties={"connection_name": connection_name},
                reconnect_interval=reconnect_interval,
                timeout=publish_timeout,
            )
        try:
            with translated(f"declaring the exchange {topology.exchange}"):
                channel = connection.channel(publisher_confirms=True, on_return_raises=True)
                await channel.initialize()
                declared = await channel.declare_exchange(
                    topology.exchange, aio_pika.ExchangeType.TOPIC, durable=True
                )
        except Unavailable:
            await connection.close()
            raise
        publisher = ConfirmedPublisher(
            channel=channel, exchange=declared, topology=topology, timeout=publish_timeout
        )
        return cls(
            connection=connection,
            publisher=publisher,
            topology=topology,
            max_deliveries=max_deliveries,
            clock=clock,
            breaker=breaker,
        )

    async def publish(self, routing_key: str, message: Message, *, priority: int = 0) -> None:
        """Send `message` to the queue of `routing_key`; returns once the broker confirmed it.

        A publish that meets a lost connection is sent again once aio-pika has reconnected (so
        the broker may hold it twice). `InvalidInput` if it cannot be encoded; `Unavailable` if
        the broker refuses it or does not confirm it within `publish_timeout`.
        """
        try:
            body = encode_message(message)
        except (TypeError, msgspec.EncodeError) as exc:
            raise InvalidInput.for_field("payload", f"cannot be encoded for the queue: {exc}") from exc
        if self._closed:
            raise Unavailable("the RabbitMQ queue is closed")
        with self._breaker.guard(is_outage):
            await self._publisher.send(
                routing_key, outgoing(body, message, self._topology.priority(priority))
            )

    def consume(self, routing_keys: Sequence[str], *, prefetch: int) -> AsyncIterator[RabbitMQDelivery]:
        """Deliveries from the named queues, at most `prefetch` unsettled at a time.

        The iterator ends when the queue is closed (or its `aclose` is called); it raises
        `Unavailable` if the broker refuses the subscription. A cancelled `anext` leaves it
        usable.
        """
        if prefetch < 1:
            raise InvalidInput.for_field("prefetch", "must be at least 1")
        if not routing_keys:
            raise InvalidInput.for_field("routing_keys", "must name at least one queue")
        return _Deliveries(self, list(dict.fromkeys(routing_keys)), prefetch)

    async def depth(self, routing_key: str) -> int:
        """How many messages of `routing_key` wait undelivered (expired ones included)."""
        with translated(f"measuring {routing_key}"), self._breaker.guard(is_outage):
            queue = await self._publisher.queue(routing_key)
            declared = await queue.declare()
        return int(declared.message_count or 0)

    async def ping(self) -> bool:
        """True when the broker answers on the publishing channel and the queue is open."""
        if self._closed or self._connection.is_closed:
            return False
        try:
            with self._breaker.guard(is_outage):
                await self._publisher.check()
        except SETTLE_ERRORS:  # down, or refused at once by the breaker
            return False
        return True

    async def close(self) -> None:
        """End every consumer's iterator and close the connection.

        The broker takes back every unacked message; settling a delivery afterwards raises
        `Unavailable`.
        """
        if self._closed:
            return
        self._closed = True
        for consumer in self._consumers:
            consumer.inbox.put_nowait(None)
        await self._connection.close()
        await asyncio.gather(*self._background, return_exceptions=True)

    # ------------------------------------------------------------------ consuming

    @property
    def closed(self) -> bool:
        """True once `close` was called."""
        return self._closed

    async def _subscribe(self, consumer: _Consumer, routing_keys: list[str], prefetch: int) -> None:
        self._consumers.add(consumer)
        try:
            with translated(f"subscribing to {', '.join(routing_keys)}"):
                channel = self._connection.channel(publisher_confirms=False)
                consumer.channel = channel
                await channel.initialize()
                await channel.set_qos(prefetch_count=prefetch, global_=True)  # shared by its queues
                for routing_key in routing_keys:
                    queue = await self._topology.declare(channel, routing_key)
                    tag = await queue.consume(consumer.receive, no_ack=False)
                    consumer.subscriptions.append((queue, tag))
        except Unavailable:
            await self._unsubscribe(consumer)
            raise

    def _unsubscribe_soon(self, consumer: _Consumer) -> None:
        """`_unsubscribe` from code that cannot await."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop runs: `close` ends the subscription with the connection
            return
        task = loop.create_task(self._unsubscribe(consumer))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _admit(self, consumer: _Consumer, incoming: AbstractIncomingMessage) -> RabbitMQDelivery | None:
        """The delivery to hand out, or None when the message is dropped, recounted or stale."""
        try:
            incoming.channel  # noqa: B018 - raises once the channel it came on is gone
        except ChannelInvalidStateError:
            return None  # received before a reconnection: the broker delivers it again
        try:
            message = decode_message(incoming.body)
        except msgspec.DecodeError:
            logger.warning("dead-lettering an undecodable message from %s", incoming.routing_key)
            await self._quietly(incoming, requeue=False)
            return None
        if incoming.redelivered:  # handed to a consumer that went away without settling it
            await self._quietly(incoming, requeue=True, deliveries=deliveries_before(incoming) + 1)
            return None
        if message.expired(self._clock.now()):
            await self._quietly(incoming, requeue=None)
            return None
        consumer.handed_out += 1
        return RabbitMQDelivery(incoming=incoming, message=message, settle=self._settler(consumer))

    def _settler(self, consumer: _Consumer) -> Callable[[RabbitMQDelivery, bool | None], Awaitable[None]]:
        async def settle(delivery: RabbitMQDelivery, requeue: bool | None) -> None:
            try:
                with translated(f"settling a message of {delivery.routing_key}"):
                    await self._apply(delivery.incoming, requeue, delivery.delivery_count)
            finally:
                consumer.handed_out -= 1
                if consumer.stopped and consumer.handed_out == 0:
                    await self._close_channel(consumer)

        return settle

    async def _apply(self, incoming: AbstractIncomingMessage, requeue: bool | None, deliveries: int) -> None:
        """Ack (`None`), requeue counted (True) or dead-letter (False) a received message."""
        routing_key = incoming.routing_key or ""
        if requeue is None:
            await incoming.ack()
        elif requeue and deliveries < self._max_deliveries:
            await self._publisher.republish(incoming, deliveries)
        elif routing_key.startswith(DEAD_LETTER_PREFIX):
            await incoming.reject(requeue=False)  # a dead letter refused again is dropped
        else:  # published, not rejected to the broker's dead-letter exchange: its count starts afresh
            await self._publisher.republish(incoming, 0, routing_key=DEAD_LETTER_PREFIX + routing_key)

    async def _quietly(
        self, incoming: AbstractIncomingMessage, *, requeue: bool | None, deliveries: int | None = None
    ) -> None:
        """Settle a message never handed out; if that fails, the broker delivers it again."""
        try:
            await self._apply(
                incoming, requeue, deliveries_before(incoming) if deliveries is None else deliveries
            )
        except SETTLE_ERRORS as exc:
            logger.warning("could not settle a message of %s: %r", incoming.routing_key, exc)

    async def _unsubscribe(self, consumer: _Consumer) -> None:
        """Stop the broker's pushes and give back what was pushed but not handed out."""
        if consumer.stopped:
            return
        consumer.stopped = True
        self._consumers.discard(consumer)
        if self._closed:
            return
        for queue, tag in consumer.subscriptions:
            try:
                await queue.cancel(tag)
            except BROKER_ERRORS as exc:
                logger.debug("could not cancel consumer %s: %r", tag, exc)
        while not consumer.inbox.empty():
            incoming = consumer.inbox.get_nowait()
            if incoming is not None:
                await self._give_back(incoming)
        consumer.inbox.put_nowait(None)  # ends an `anext` that waits
        if consumer.handed_out == 0:
            await self._close_channel(consumer)

    async def _give_back(self, incoming: AbstractIncomingMessage) -> None:
        try:
            if incoming.redelivered:
                await incoming.nack(requeue=True)  # it will be counted when it comes again
            else:
                await self._publisher.republish(incoming, deliveries_before(incoming))  # not counted
        except SETTLE_ERRORS as exc:
            logger.debug("could not give back a message of %s: %r", incoming.routing_key, exc)

    async def _close_channel(self, consumer: _Consumer) -> None:
        channel, consumer.channel = consumer.channel, None
        if channel is not None and not self._closed:
            try:
                async with asyncio.timeout(_CHANNEL_READY_TIMEOUT):
                    await channel.ready()  # closing it while aio-pika restores it drops the connection
                await channel.close()
            except BROKER_ERRORS as exc:
                logger.debug("could not close a consumer channel: %r", exc)


class _Deliveries:
    """What `consume` returns: subscribes on first use, hands out what the broker pushes."""

    def __init__(self, queue: RabbitMQQueue, routing_keys: list[str], prefetch: int) -> None:
        self._queue = queue
        self._routing_keys = routing_keys
        self._prefetch = prefetch
        self._consumer = _Consumer()
        self._subscribing: asyncio.Task[None] | None = None

    def __aiter__(self) -> _Deliveries:
        return self

    async def __anext__(self) -> RabbitMQDelivery:
        queue, consumer = self._queue, self._consumer
        if queue.closed or consumer.stopped:
            raise StopAsyncIteration
        if self._subscribing is None:
            self._subscribing = asyncio.create_task(
                queue._subscribe(consumer, self._routing_keys, self._prefetch)
            )
        try:
            await asyncio.shield(self._subscribing)
        except (asyncio.CancelledError, Exception):
            # A close that cuts the subscription short can surface as anything the driver raises
            # for its aborted RPCs (aiormq wraps the cancellation in a bare `Exception`).
            if queue.closed and self._subscribing.done():
                raise StopAsyncIteration from None
            raise
        while (incoming := await consumer.inbox.get()) is not None:
            delivery = await queue._admit(consumer, incoming)
            if delivery is not None:
                return delivery
        raise StopAsyncIteration

    async def aclose(self) -> None:
        """Stop consuming; deliveries handed out can still be settled."""
        if self._subscribing is not None:
            await asyncio.wait({self._subscribing})
        await self._queue._unsubscribe(self._consumer)

    def __del__(self) -> None:
        # Dropped without `aclose` (as a consumer task that ends does): stop the broker's pushes.
        if not self._consumer.stopped:
            self._queue._unsubscribe_soon(self._consumer)
