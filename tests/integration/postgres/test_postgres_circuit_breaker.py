"""PostgreSQL behind the circuit breaker, cut off by a proxy: after `failure_threshold` failures
calls fail at once instead of waiting for a connection, and the first trial call after the
server is back closes the breaker."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from scheduler_errors import Conflict, SchedulerError
from scheduler_infrastructure import PostgresDatabase, PostgresTaskRepository, migrate_postgres
from scheduler_infrastructure.breaker import BreakerState, CircuitBreaker, CircuitOpen
from scheduler_testing import a_task
from tests.integration.breakers import (
    fail_until_open,
    metered,
    refusals,
    shown,
    timed,
    until_half_open,
    until_it_succeeds,
)
from tests.integration.postgres.server import POSTGRES_URL, schema_url
from tests.integration.tcp_proxy import TcpProxy

CONNECT_TIMEOUT = 2.0
THRESHOLD = 3
RESET_TIMEOUT = 0.5
#: A refused call must fail this much faster than a call that waits for a connection.
AT_ONCE = CONNECT_TIMEOUT / 20


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    async with TcpProxy.to(POSTGRES_URL) as proxy:
        yield proxy


@pytest.fixture
def breaker() -> CircuitBreaker:
    return CircuitBreaker("postgresql", failure_threshold=THRESHOLD, reset_timeout=RESET_TIMEOUT)


@pytest.fixture
async def db(schema: str, proxy: TcpProxy, breaker: CircuitBreaker) -> AsyncIterator[PostgresDatabase]:
    """A migrated database on a fresh schema, reached through the proxy, its calls behind `breaker`."""
    through_proxy = make_conninfo(schema_url(schema), host="127.0.0.1", port=str(proxy.port))
    assert conninfo_to_dict(through_proxy)["port"] == str(proxy.port)
    database = await PostgresDatabase.open(
        through_proxy, min_size=1, max_size=2, connect_timeout=CONNECT_TIMEOUT, breaker=breaker
    )
    try:
        await migrate_postgres(database)
        yield database
    finally:
        await database.close()


async def select_one(db: PostgresDatabase) -> None:
    async with db.session() as session:
        await session.fetch_one("SELECT 1")


async def test_calls_fail_at_once_while_open_and_work_resumes_after_a_trial(
    db: PostgresDatabase, proxy: TcpProxy, breaker: CircuitBreaker
) -> None:
    tasks = PostgresTaskRepository(db=db)
    metrics = metered(breaker)
    before = await tasks.add(a_task(name="before"))

    await proxy.refuse()
    slow = await fail_until_open(breaker, lambda: tasks.get(before.id), within=THRESHOLD * 10)
    refused = await refusals(lambda: tasks.get(before.id), 20)

    assert len(slow) == THRESHOLD
    assert max(slow) >= CONNECT_TIMEOUT * 0.9  # what a call cost before it opened: a wait for a connection
    assert max(refused) < AT_ONCE
    assert shown(metrics, "postgresql") == (1.0, 1.0)
    seconds, refusal = await timed(lambda: tasks.add(a_task(name="while-down")))
    assert isinstance(refusal, CircuitOpen)
    assert seconds < AT_ONCE
    assert str(refusal).startswith("postgresql is unavailable: its circuit breaker is open after 3 failures")
    assert 0 < (refusal.retry_after or 0) <= RESET_TIMEOUT
    seconds, _ = await timed(db.ping)
    assert not await db.ping()  # readiness says down, at once too
    assert seconds < AT_ONCE
    assert breaker.times_opened == 1

    await proxy.restore()
    after = await until_it_succeeds(lambda: tasks.add(a_task(name="after")), within=60)

    assert breaker.state is BreakerState.CLOSED
    assert shown(metrics, "postgresql") == (0.0, 1.0)
    assert (await tasks.get(before.id)).name == "before"
    assert (await tasks.get(after.id)).name == "after"
    assert await db.ping()


async def test_a_trial_while_the_server_is_still_down_opens_it_again(
    db: PostgresDatabase, proxy: TcpProxy, breaker: CircuitBreaker
) -> None:
    await proxy.refuse()
    await fail_until_open(breaker, lambda: select_one(db), within=THRESHOLD * 10)

    await until_half_open(breaker, within=RESET_TIMEOUT * 10)
    _, error = await timed(lambda: select_one(db))

    assert error is not None
    assert not isinstance(error, CircuitOpen)  # the trial went to the server, and failed
    assert breaker.state is BreakerState.OPEN
    assert breaker.times_opened == 1
    seconds, error = await timed(lambda: select_one(db))
    assert isinstance(error, CircuitOpen)
    assert seconds < AT_ONCE


async def test_errors_the_server_answers_with_do_not_open_it(
    db: PostgresDatabase, proxy: TcpProxy, breaker: CircuitBreaker
) -> None:
    tasks = PostgresTaskRepository(db=db)
    await tasks.add(a_task(name="taken"))

    for _ in range(THRESHOLD * 3):
        with pytest.raises(Conflict):
            await tasks.add(a_task(name="taken"))
        with pytest.raises(SchedulerError):  # an operational error of the request's making (54000)
            await db.run(lambda session: session.fetch_one("SELECT array_fill(1, ARRAY[1000000000])"))

    assert breaker.state is BreakerState.CLOSED
    await proxy.refuse()  # whereas the server's absence does, from the first failure on
    assert len(await fail_until_open(breaker, lambda: select_one(db), within=THRESHOLD * 10)) == THRESHOLD
