"""The message queue on RabbitMQ."""

from scheduler_infrastructure.rabbitmq.delivery import RabbitMQDelivery
from scheduler_infrastructure.rabbitmq.queue import RabbitMQQueue

__all__ = ["RabbitMQDelivery", "RabbitMQQueue"]
