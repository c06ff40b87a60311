"""Two worker keys registering one worker id at the same moment: exactly one of them gets it."""

from __future__ import annotations

import asyncio

from scheduler_domain import WorkerInfo, WorkerStatus
from scheduler_infrastructure import PostgresDatabase, PostgresWorkerRepository


def registration(worker_id: str, registrant: str) -> WorkerInfo:
    return WorkerInfo(id=worker_id, hostname=registrant, status=WorkerStatus.ONLINE, registered_by=registrant)


async def test_of_two_registrants_racing_for_an_id_one_wins(db: PostgresDatabase) -> None:
    workers = PostgresWorkerRepository(db=db)

    for round_ in range(30):
        worker_id = f"w-{round_}"
        won = await asyncio.gather(
            workers.register(registration(worker_id, "apikey:1:a")),
            workers.register(registration(worker_id, "apikey:2:b")),
        )

        assert sorted(won) == [False, True], worker_id
        winner = "apikey:1:a" if won[0] else "apikey:2:b"
        assert (await workers.get(worker_id)).registered_by == winner
