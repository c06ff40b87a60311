"""The contract of the audit-log repository, for every implementation (see conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec

from scheduler_domain import AuditEntry, AuditQuery, decode_cursor
from tests.conformance.contract_stores import Stores

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def an_entry(actor: str = "admin-key", resource: str = "task:1", **changes: object) -> AuditEntry:
    entry = AuditEntry(actor=actor, action="task.update", resource=resource, at=T0)
    return msgspec.structs.replace(entry, **changes)


async def ids(stores: Stores, query: AuditQuery) -> list[int]:
    return [entry.id for entry in (await stores.audit.page(query)).items]


async def test_record_assigns_increasing_ids_and_every_field_round_trips(stores: Stores) -> None:
    entry = AuditEntry(
        actor="ci-key",
        action="run.cancel",
        resource="run:42",
        at=T0 + timedelta(microseconds=7),
        source_ip="10.1.2.3",
        outcome=409,
        detail={"reason": "already finished", "attempt": 2, "tags": ["a", "b"], "nested": {"ok": False}},
    )

    first = await stores.audit.record(entry)
    second = await stores.audit.record(an_entry(source_ip=None))

    assert 0 < first.id < second.id
    page = await stores.audit.page(AuditQuery())
    assert list(page.items) == [second, first]
    assert page.items[1] == msgspec.structs.replace(entry, id=first.id)
    assert page.items[1].at.utcoffset() == timedelta(0)
    assert page.next_cursor is None


async def test_a_source_that_is_not_an_address_is_kept(stores: Stores) -> None:
    stored = await stores.audit.record(an_entry(source_ip="testclient"))

    assert (await stores.audit.page(AuditQuery())).items == [stored]


async def test_pages_walk_newest_first_without_gaps(stores: Stores) -> None:
    recorded = [await stores.audit.record(an_entry(resource=f"task:{i}")) for i in range(7)]

    seen: list[int] = []
    pages = 0
    query = AuditQuery(limit=3)
    while True:
        page = await stores.audit.page(query)
        pages += 1
        seen += [entry.id for entry in page.items]
        if page.next_cursor is None:
            break
        query = msgspec.structs.replace(query, before_id=decode_cursor(page.next_cursor))

    assert seen == [entry.id for entry in reversed(recorded)]
    assert pages == 3


async def test_a_listing_that_fills_its_last_page_exactly_has_no_next_cursor(stores: Stores) -> None:
    for _ in range(4):
        await stores.audit.record(an_entry())

    first = await stores.audit.page(AuditQuery(limit=2))
    assert first.next_cursor is not None
    second = await stores.audit.page(AuditQuery(limit=2, before_id=decode_cursor(first.next_cursor)))

    assert len(second.items) == 2
    assert second.next_cursor is None


async def test_audit_filters_combine(stores: Stores) -> None:
    admin_task = await stores.audit.record(an_entry(actor="admin", resource="task:1"))
    ci_task = await stores.audit.record(an_entry(actor="ci", resource="task:1"))
    admin_key = await stores.audit.record(an_entry(actor="admin", resource="api-key:3"))
    admin_task_again = await stores.audit.record(an_entry(actor="admin", resource="task:1"))

    assert await ids(stores, AuditQuery(actor="admin")) == [admin_task_again.id, admin_key.id, admin_task.id]
    assert await ids(stores, AuditQuery(resource="task:1")) == [
        admin_task_again.id,
        ci_task.id,
        admin_task.id,
    ]
    assert await ids(stores, AuditQuery(actor="admin", resource="task:1")) == [
        admin_task_again.id,
        admin_task.id,
    ]
    assert await ids(stores, AuditQuery(actor="Admin")) == []
    assert await ids(stores, AuditQuery(resource="task")) == []
    assert await ids(stores, AuditQuery(actor="admin", before_id=admin_key.id)) == [admin_task.id]


async def test_an_empty_log_has_an_empty_page(stores: Stores) -> None:
    page = await stores.audit.page(AuditQuery(actor="nobody"))

    assert list(page.items) == []
    assert page.next_cursor is None
