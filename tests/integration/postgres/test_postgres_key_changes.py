"""API key changes announced by PostgreSQL (migration 0008) reach every API process's key cache."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest

from scheduler_application import AccessControl
from scheduler_domain import Role
from scheduler_errors import Unauthenticated
from scheduler_infrastructure import PostgresApiKeyRepository, PostgresDatabase, PostgresKeyChanges
from scheduler_infrastructure.postgres.key_changes import CHANNEL
from scheduler_infrastructure.postgres.wakeup import schema_channel
from scheduler_testing import FakeClock, eventually
from tests.integration.postgres.server import admin_connection

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@contextlib.asynccontextmanager
async def listening(
    db: PostgresDatabase, heard: list[int | None], then: Callable[[int | None], None] = lambda _: None
) -> AsyncIterator[PostgresKeyChanges]:
    """The listener running, recording what it heard in `heard` (and passing it to `then`), from
    its first start of listening until the block ends."""

    def on_change(key_id: int | None) -> None:
        heard.append(key_id)
        then(key_id)

    changes = PostgresKeyChanges(db=db, on_change=on_change)
    running = asyncio.create_task(changes.run())
    try:
        await eventually(lambda: heard == [None])  # the listener to start listening
        yield changes
    finally:
        changes.stop()
        await asyncio.wait_for(running, 2)


async def test_a_revoked_key_is_announced_by_its_id(db: PostgresDatabase) -> None:
    keys = PostgresApiKeyRepository(db=db)
    control = AccessControl(keys=keys, clock=FakeClock(T0))
    issued = await control.issue("ci", Role.READONLY)
    heard: list[int | None] = []

    async with listening(db, heard):
        await keys.revoke(issued.key.id, T0)
        await eventually(lambda: heard == [None, issued.key.id])  # the revocation to be heard


async def test_a_change_of_trust_by_hand_is_announced_and_no_other_write(db: PostgresDatabase) -> None:
    keys = PostgresApiKeyRepository(db=db)
    control = AccessControl(keys=keys, clock=FakeClock(T0))
    first, second = await control.issue("a", Role.ADMIN), await control.issue("b", Role.ADMIN)
    heard: list[int | None] = []

    async with listening(db, heard):
        last = await control.issue("c", Role.READONLY)
        async with db.session() as session:
            await session.execute("UPDATE api_keys SET last_used_at = now(), name = 'x'", {})
            await session.execute(
                "UPDATE api_keys SET role = 'readonly' WHERE id = %(id)s", {"id": first.key.id}
            )
            await session.execute("DELETE FROM api_keys WHERE id = %(id)s", {"id": second.key.id})
        await keys.revoke(last.key.id, T0)  # the last change: once heard, the others were
        await eventually(lambda: heard[-1] == last.key.id)  # the last change to be heard

    assert heard == [None, first.key.id, second.key.id, last.key.id]


async def test_another_process_stops_trusting_a_revoked_key_at_once(db: PostgresDatabase) -> None:
    keys = PostgresApiKeyRepository(db=db)
    here = AccessControl(keys=keys, clock=FakeClock(T0))
    there = AccessControl(keys=keys, clock=FakeClock(T0), key_cache_ttl=timedelta(hours=1))
    issued = await here.issue("ci", Role.OPERATOR)
    await there.authenticate(issued.secret)  # remembered there for an hour
    heard: list[int | None] = []

    async with listening(db, heard, then=there.forget_key):
        await there.authenticate(issued.secret)
        await there.authenticate(issued.secret)
        assert there.key_lookups == {"cached": 1, "read": 2}  # the start of listening forgot it
        await here.revoke(issued.key.id)
        await eventually(lambda: issued.key.id in heard)  # the revocation to be heard

        with pytest.raises(Unauthenticated):
            await there.authenticate(issued.secret)


async def test_changes_by_hand_from_another_search_path_and_a_truncate_are_heard(
    db: PostgresDatabase,
) -> None:
    keys = PostgresApiKeyRepository(db=db)
    control = AccessControl(keys=keys, clock=FakeClock(T0))
    issued = await control.issue("ci", Role.READONLY)
    async with db.session() as session:
        row = await session.fetch_one("SELECT current_schema() AS name", {})
    assert row is not None
    schema = row["name"]
    heard: list[int | None] = []

    async with listening(db, heard), await admin_connection() as admin:  # search path: public
        await admin.execute(f"UPDATE {schema}.api_keys SET revoked_at = now() WHERE id = %s", [issued.key.id])
        await eventually(lambda: heard[-1] == issued.key.id)  # the revocation by hand to be heard
        await admin.execute(f"TRUNCATE {schema}.api_keys")
        await eventually(lambda: len(heard) == 3)  # the truncation to be heard

    assert heard == [None, issued.key.id, None]


async def kill_listener(db: PostgresDatabase) -> None:
    """End the backend of the connection LISTENing for key changes on `db`'s schema."""
    probe = await db.dedicated_connection()
    channel = await schema_channel(probe, CHANNEL)
    await probe.close()
    async with await admin_connection() as admin:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE pid <> pg_backend_pid() AND query LIKE %s",
            [f'LISTEN "{channel}"%'],
        )


async def test_the_pause_after_a_loss_starts_short_again_once_listening(
    db: PostgresDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    heard: list[int | None] = []
    async with listening(db, heard):
        for losses in (1, 2):
            await kill_listener(db)
            await eventually(lambda starts=1 + 2 * losses: heard.count(None) == starts, within=10)

    pauses = [
        record.retry_in for record in caplog.records if record.getMessage().startswith("API key changes")
    ]
    assert pauses == [0.5, 0.5]


async def test_a_lost_connection_forgets_everything_and_listens_again(db: PostgresDatabase) -> None:
    keys = PostgresApiKeyRepository(db=db)
    control = AccessControl(keys=keys, clock=FakeClock(T0))
    issued = await control.issue("ci", Role.READONLY)
    heard: list[int | None] = []

    async with listening(db, heard):
        await kill_listener(db)
        await eventually(lambda: heard.count(None) == 3, within=10)  # the loss, then a new start
        await keys.revoke(issued.key.id, T0)
        await eventually(lambda: heard[-1] == issued.key.id)  # a revocation after the loss to be heard


async def test_stop_ends_the_listener_promptly(db: PostgresDatabase) -> None:
    heard: list[int | None] = []
    async with listening(db, heard) as changes:
        started = time.monotonic()
        changes.stop()
    assert time.monotonic() - started < 2
