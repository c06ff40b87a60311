"""The message envelope: both payload kinds survive the wire; malformed input is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from scheduler_domain import CancelRun, Message, TaskType, decode_message, encode_message, worker_command_key
from scheduler_testing import a_dispatch

NOW = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def test_a_run_dispatch_round_trips() -> None:
    dispatch = a_dispatch(
        "curl http://x", task_type=TaskType.HTTP, executor="http", arguments={"n": [1, 2]}, attempt=3
    )
    message = Message(
        payload=dispatch,
        correlation_id="run-1",
        timestamp=NOW,
        retry_count=2,
        expires_at=NOW + timedelta(minutes=5),
        headers={"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
    )

    decoded = decode_message(encode_message(message))

    assert decoded == message
    assert isinstance(decoded.payload, type(dispatch))
    assert decoded.message_type == "run.dispatch"


def test_a_cancel_round_trips() -> None:
    message = Message(payload=CancelRun(run_id=4, attempt=2, reason="timed out"), timestamp=NOW)

    decoded = decode_message(encode_message(message))

    assert decoded == message
    assert decoded.message_type == "run.cancel"


def test_the_payload_is_tagged_on_the_wire() -> None:
    wire = msgspec.json.decode(encode_message(Message(payload=CancelRun(run_id=1, attempt=1))))

    assert wire["payload"]["type"] == "run.cancel"


def test_every_message_gets_its_own_id() -> None:
    first, second = (Message(payload=CancelRun(run_id=1, attempt=1)) for _ in range(2))

    assert first.id != second.id
    assert len(first.id) == 32


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"{}",
        b'{"payload": {"type": "run.explode"}}',
        b'{"payload": {"type": "run.cancel", "run_id": "one", "attempt": 1}}',
        b'{"payload": {"type": "run.dispatch", "run_id": 1}}',
    ],
)
def test_malformed_messages_are_refused(data: bytes) -> None:
    with pytest.raises(msgspec.DecodeError):
        decode_message(data)


def test_expiry() -> None:
    message = Message(payload=CancelRun(run_id=1, attempt=1), expires_at=NOW)

    assert not message.expired(NOW - timedelta(seconds=1))
    assert message.expired(NOW)
    assert not Message(payload=CancelRun(run_id=1, attempt=1)).expired(NOW)


def test_worker_commands_are_addressed_per_worker() -> None:
    assert worker_command_key("w-7") == "worker.command.w-7"
