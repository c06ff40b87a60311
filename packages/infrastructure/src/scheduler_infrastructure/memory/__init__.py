"""In-process adapters for a single process: the message queue and the dispatch wake-up."""

from scheduler_infrastructure.memory.queue import InMemoryDelivery, InMemoryMessageQueue
from scheduler_infrastructure.memory.wakeup import LocalWakeup

__all__ = ["InMemoryDelivery", "InMemoryMessageQueue", "LocalWakeup"]
