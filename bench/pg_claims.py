"""Claim-and-transition throughput on PostgreSQL, with one and with two claimers.

Each claimer is a process of its own with its own pool (as dispatchers are), looping:
`claim_pending(now, batch)` (one UPDATE ... FOR UPDATE SKIP LOCKED), then for every claimed run
the two transitions a worker's reports cause (queued -> running -> succeeded, each a conditional
UPDATE). The figure is runs taken from pending to succeeded per second of wall time, over a
fixed number of due runs loaded beforehand. Claim-only throughput is measured the same way.

    uv run python bench/pg_claims.py [--runs 10000] [--batches 50,200]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from pg_common import machine, schema_url, table, throwaway_schema

from scheduler_domain import Priority, RunOutcome, RunStatus
from scheduler_infrastructure import PostgresDatabase, PostgresTaskRepository, PostgresTaskRunRepository
from scheduler_infrastructure.postgres.runs import insert_runs
from scheduler_testing import a_run, a_task

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


async def load_pending(schema: str, count: int) -> None:
    db = await PostgresDatabase.open(schema_url(schema), statement_timeout=0)
    try:
        task = await PostgresTaskRepository(db=db).add(a_task(name="bench"))
        priorities = list(Priority)
        runs = [
            a_run(task_id=task.id, priority=priorities[i % 4], scheduled_for=NOW - timedelta(seconds=i % 600))
            for i in range(count)
        ]
        async with db.transaction() as session:
            await insert_runs(session, runs)
        async with db.session() as session:
            await session.execute("VACUUM ANALYZE task_runs")
    finally:
        await db.close()


async def claim_loop(schema: str, batch: int, transitions: bool) -> tuple[int, float, float]:
    db = await PostgresDatabase.open(schema_url(schema), min_size=1, max_size=1)
    runs = PostgresTaskRunRepository(db=db)
    done = 0
    started = time.time()
    try:
        while claimed := await runs.claim_pending(NOW, batch):
            if transitions:
                for run in claimed:
                    running = run.started("bench-worker", NOW)
                    await runs.transition(running, expected=RunStatus.QUEUED)
                    finished = running.finished(RunOutcome(status=RunStatus.SUCCEEDED, exit_code=0), NOW)
                    await runs.transition(finished, expected=RunStatus.RUNNING)
            done += len(claimed)
    finally:
        await db.close()
    return done, started, time.time()


def claimer(schema: str, batch: int, transitions: bool, start: Any, results: Any) -> None:
    start.wait()
    results.put(asyncio.run(claim_loop(schema, batch, transitions)))


async def measure(runs: int, batch: int, claimers: int, transitions: bool) -> tuple[float, int]:
    """Runs per second, and how many runs were processed (must be all of them)."""
    async with throwaway_schema("claims") as schema:
        await load_pending(schema, runs)
        context = multiprocessing.get_context("spawn")
        start, results = context.Barrier(claimers), context.Queue()
        processes = [
            context.Process(target=claimer, args=(schema, batch, transitions, start, results))
            for _ in range(claimers)
        ]
        for process in processes:
            process.start()
        outcomes = [results.get(timeout=600) for _ in processes]
        for process in processes:
            process.join()
    done = sum(count for count, _, _ in outcomes)
    elapsed = max(end for _, _, end in outcomes) - min(begin for _, begin, _ in outcomes)
    return done / elapsed, done


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10_000, help="due runs loaded per measurement")
    parser.add_argument("--batches", default="50,200", help="claim batch sizes, comma-separated")
    args = parser.parse_args()
    rows = []
    for transitions in (False, True):
        for batch in (int(b) for b in args.batches.split(",")):
            for claimers in (1, 2):
                rate, done = await measure(args.runs, batch, claimers, transitions)
                if done != args.runs:
                    sys.exit(f"claimed {done} runs of {args.runs}: a run was lost or claimed twice")
                work = "claim + 2 transitions" if transitions else "claim only"
                statements = rate * 2 * transitions + rate / batch
                rows.append([work, batch, claimers, args.runs, f"{rate:,.0f}", f"{statements:,.0f}"])
    print(f"# claim-and-transition throughput on {machine()}\n")
    print(table(["work per run", "batch", "claimers", "runs", "runs/s", "statements/s"], rows))


if __name__ == "__main__":
    asyncio.run(main())
