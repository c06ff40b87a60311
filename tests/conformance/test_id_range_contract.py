"""An id no store can hold (past 64 bits, as a client may put in a URL) is an unknown id everywhere."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from scheduler_domain import RunQuery
from scheduler_errors import NotFound
from scheduler_testing import a_run, a_task
from tests.conformance.contract_stores import Stores

BEYOND_64_BITS = [2**63, 10**20, -(2**63) - 1]


@pytest.mark.parametrize("unknown", BEYOND_64_BITS)
async def test_a_task_id_beyond_64_bits_is_not_found(stores: Stores, unknown: int) -> None:
    await stores.tasks.add(a_task())

    with pytest.raises(NotFound):
        await stores.tasks.get(unknown)
    with pytest.raises(NotFound):
        await stores.tasks.downstream(unknown)
    with pytest.raises(NotFound):
        await stores.tasks.update(a_task(id=unknown, name="other"))
    assert await stores.tasks.get_many([unknown]) == {}


@pytest.mark.parametrize("unknown", BEYOND_64_BITS)
async def test_a_run_id_or_run_filter_beyond_64_bits_finds_nothing(stores: Stores, unknown: int) -> None:
    task = await stores.tasks.add(a_task())
    await stores.runs.add(a_run(task_id=task.id))

    with pytest.raises(NotFound):
        await stores.runs.get(unknown)
    assert (await stores.runs.page(RunQuery(task_id=unknown))).items == []
    assert await stores.runs.get_many([unknown]) == {}


@pytest.mark.parametrize("unknown", BEYOND_64_BITS)
async def test_revoking_a_key_id_beyond_64_bits_is_not_found(stores: Stores, unknown: int) -> None:
    with pytest.raises(NotFound):
        await stores.api_keys.revoke(unknown, datetime(2026, 1, 1, tzinfo=UTC))
