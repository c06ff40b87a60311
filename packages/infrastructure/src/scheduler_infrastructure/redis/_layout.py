"""Where messages live in Redis: one stream per routing key and priority level."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scheduler_infrastructure.memory.queue import DEAD_LETTER_PREFIX


@dataclass(frozen=True, slots=True)
class Stream:
    """The stream of one routing key at one priority level, and where its dead letters go."""

    routing_key: str
    level: int
    name: str
    dead_letters: str | None  # None for a dead-letter stream: a dead letter refused again is dropped


class StreamLayout:
    """Names the streams of a namespace.

    `<namespace>mq:<routing key>:<level>`, levels 0 (lowest) to `levels - 1`. Priorities outside
    that range are clamped to it. Dead letters of `task.shell` at level 2 go to the stream of
    `dead_letter.task.shell` at level 2, so they keep their priority.
    """

    def __init__(self, *, namespace: str, levels: int) -> None:
        self._prefix = f"{namespace}mq:"
        self.levels = levels

    def level(self, priority: int) -> int:
        """The level a message of `priority` is filed under."""
        return min(max(priority, 0), self.levels - 1)

    def stream(self, routing_key: str, level: int) -> Stream:
        """The stream of `routing_key` at `level`."""
        dead_letters = None
        if not routing_key.startswith(DEAD_LETTER_PREFIX):
            dead_letters = self._name(DEAD_LETTER_PREFIX + routing_key, level)
        return Stream(routing_key, level, self._name(routing_key, level), dead_letters)

    def streams(self, routing_keys: Sequence[str]) -> list[Stream]:
        """Every stream of `routing_keys`, best first: highest level, then in the order given."""
        keys = list(dict.fromkeys(routing_keys))
        return [self.stream(key, level) for level in reversed(range(self.levels)) for key in keys]

    def _name(self, routing_key: str, level: int) -> str:
        return f"{self._prefix}{routing_key}:{level}"
