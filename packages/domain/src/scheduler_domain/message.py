"""The message envelope and the payloads that travel in it.

Routing keys: `task.<task_type>` for runs, `status.<kind>` for status updates,
`worker.heartbeat`, `worker.registration`, and `worker.command.<worker_id>` for commands.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec
from msgspec import Struct

from scheduler_domain.run import RunOutcome
from scheduler_domain.values import TaskType, utc_now

WORKER_COMMAND_PREFIX = "worker.command."
#: The queue on which workers report what happens to their runs; the dispatchers consume it.
STATUS_RUNS = "status.runs"


def worker_command_key(worker_id: str) -> str:
    """The routing key of the commands addressed to one worker."""
    return f"{WORKER_COMMAND_PREFIX}{worker_id}"


class RunDispatch(Struct, frozen=True, kw_only=True, tag="run.dispatch"):
    """Everything a worker needs to execute one run attempt, with no database access."""

    run_id: int
    task_id: int
    attempt: int
    task_type: TaskType
    executor: str
    command: str
    arguments: dict[str, Any] = msgspec.field(default_factory=dict)
    timeout_seconds: int = 3600


class CancelRun(Struct, frozen=True, kw_only=True, tag="run.cancel"):
    """Stop the named run attempt if it is executing here."""

    run_id: int
    attempt: int
    reason: str = "cancelled by request"


class RunStarted(Struct, frozen=True, kw_only=True, tag="status.started"):
    """A worker began executing a run attempt."""

    run_id: int
    attempt: int
    worker_id: str
    at: datetime


class RunFinished(Struct, frozen=True, kw_only=True, tag="status.finished"):
    """A worker's run attempt ended as `outcome`."""

    run_id: int
    attempt: int
    worker_id: str
    outcome: RunOutcome
    at: datetime


#: What a worker reports about a run it took.
StatusReport = RunStarted | RunFinished


class RunReports(Struct, frozen=True, kw_only=True, tag="status.reports"):
    """Several status reports of one worker in one message: what it had to say at one moment.

    A worker under load sends its reports together rather than one message each; they are
    applied in their order, as if they had come one by one.
    """

    reports: list[StatusReport]


Payload = RunDispatch | CancelRun | RunStarted | RunFinished | RunReports


class Message(Struct, frozen=True, kw_only=True):
    """The envelope every queue carries; `headers` hold W3C trace context."""

    payload: Payload
    id: str = msgspec.field(default_factory=lambda: uuid.uuid4().hex)
    correlation_id: str | None = None
    timestamp: datetime = msgspec.field(default_factory=utc_now)
    retry_count: int = 0
    expires_at: datetime | None = None
    headers: dict[str, str] = msgspec.field(default_factory=dict)

    @property
    def message_type(self) -> str:
        """The payload's tag, e.g. `run.dispatch`."""
        return str(type(self.payload).__struct_config__.tag)

    def expired(self, now: datetime) -> bool:
        """True when the message should be dropped unprocessed."""
        return self.expires_at is not None and now >= self.expires_at


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(Message)


def encode_message(message: Message) -> bytes:
    """The wire form of a message."""
    return _ENCODER.encode(message)


def decode_message(data: bytes) -> Message:
    """A message from its wire form; raises `msgspec.ValidationError` on a malformed one."""
    return _DECODER.decode(data)
