"""AuditTrail against the fake store: entries are stamped by the clock and listed newest first."""

from __future__ import annotations

from datetime import timedelta

import pytest

from scheduler_application import AuditTrail
from scheduler_domain import MAX_LIMIT, AuditQuery, decode_cursor
from scheduler_errors import InvalidInput
from scheduler_testing import FakeAuditLogRepository, FakeClock

from .conftest import START


@pytest.fixture
def log() -> FakeAuditLogRepository:
    return FakeAuditLogRepository()


@pytest.fixture
def trail(log: FakeAuditLogRepository, clock: FakeClock) -> AuditTrail:
    return AuditTrail(log=log, clock=clock)


async def _record(trail: AuditTrail, actor: str, resource: str, action: str = "task.update") -> None:
    await trail.record(actor, action, resource, source_ip="10.0.0.1", outcome=200)


async def test_record_stores_who_what_when_and_from_where(
    trail: AuditTrail, log: FakeAuditLogRepository
) -> None:
    stored = await trail.record(
        "apikey:1:ci", "task.create", "task:7", source_ip="10.0.0.1", outcome=201, detail={"name": "nightly"}
    )

    assert log.rows == [stored]
    assert (stored.id, stored.actor, stored.action, stored.resource) == (
        1,
        "apikey:1:ci",
        "task.create",
        "task:7",
    )
    assert (stored.at, stored.source_ip, stored.outcome, stored.detail) == (
        START,
        "10.0.0.1",
        201,
        {"name": "nightly"},
    )


async def test_entries_are_stamped_with_the_clock_at_the_time_of_recording(
    trail: AuditTrail, log: FakeAuditLogRepository, clock: FakeClock
) -> None:
    await _record(trail, "a", "task:1")
    clock.advance(90)
    await _record(trail, "a", "task:1")

    assert [entry.at for entry in log.rows] == [START, START + timedelta(seconds=90)]


async def test_detail_defaults_to_empty_and_is_not_shared_with_the_caller(
    trail: AuditTrail, log: FakeAuditLogRepository
) -> None:
    detail = {"fields": ["name"]}
    await trail.record("a", "task.update", "task:1", source_ip=None, outcome=409, detail=detail)
    await trail.record("a", "task.archive", "task:1", source_ip=None, outcome=204)
    detail["fields"] = ["secret"]

    assert [entry.detail for entry in log.rows] == [{"fields": ["name"]}, {}]
    assert log.rows[0].source_ip is None


async def test_page_lists_newest_first_with_filters_and_a_cursor(trail: AuditTrail) -> None:
    for number in range(1, 6):
        await _record(trail, "alice" if number % 2 else "bob", f"task:{number % 2}")

    first = await trail.page(AuditQuery(actor="alice", limit=2))
    second = await trail.page(AuditQuery(actor="alice", limit=2, before_id=decode_cursor(first.next_cursor)))
    on_bob = await trail.page(AuditQuery(resource="task:0"))

    assert [entry.id for entry in first.items] == [5, 3]
    assert [entry.id for entry in second.items] == [1]
    assert second.next_cursor is None
    assert [entry.id for entry in on_bob.items] == [4, 2]


@pytest.mark.parametrize("limit", [0, -1, MAX_LIMIT + 1])
async def test_page_refuses_a_limit_out_of_range(trail: AuditTrail, limit: int) -> None:
    with pytest.raises(InvalidInput) as caught:
        await trail.page(AuditQuery(limit=limit))

    assert caught.value.errors[0].field == "limit"


async def test_a_nul_in_the_path_is_recorded_as_a_replacement_character(
    trail: AuditTrail, log: FakeAuditLogRepository
) -> None:
    stored = await trail.record(
        "apikey:1:ci", "worker.deregister", "worker:a\x00b", source_ip=None, outcome=404
    )

    assert stored.resource == log.rows[0].resource == "worker:a\ufffdb"
