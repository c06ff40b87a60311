"""The message queue on Redis Streams."""

from scheduler_infrastructure.redis.delivery import RedisDelivery
from scheduler_infrastructure.redis.queue import RedisStreamsQueue

__all__ = ["RedisDelivery", "RedisStreamsQueue"]
