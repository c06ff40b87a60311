"""Cost of the due-schedule scan as the task table grows: 10,000 vs 1,000,000 tasks, 100 due.

Tasks are bulk-loaded with one `INSERT ... SELECT FROM generate_series` into a throwaway schema
(90% active with a next fire in the coming hour, 10% paused, and exactly 100 due now), then
`TaskRepository.due(now, 200)` is timed (median of many calls, rows decoded into tasks), and the
plan of its query is printed by EXPLAIN (ANALYZE, BUFFERS): the partial index `tasks_due` keeps
the scan to the due rows, so the cost stays flat. For contrast, the same query is explained once
more with the indexes on `next_run_at` dropped (inside a rolled-back transaction).

    uv run python bench/pg_due_scan.py [--sizes 10000,1000000] [--calls 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from pg_common import machine, schema_url, table, throwaway_schema

from scheduler_infrastructure import PostgresDatabase, PostgresTaskRepository
from scheduler_infrastructure.postgres.database import Session

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
DUE = 100

# Every column the repository writes; task i is due when i % (n / 100) = 1, paused when i % 10 = 0.
_LOAD = """
INSERT INTO tasks (name, name_folded, command, task_type, executor, description, arguments, schedule,
                   timezone, misfire_policy, priority, status, max_retries, retry_backoff_seconds,
                   timeout_seconds, dependencies, tags, metadata, created_at, updated_at, next_run_at)
SELECT 'task-' || i, 'task-' || i, 'echo ' || i, 'shell', '', '', '{}', '* * * * *',
       'UTC', 'run_once', 'normal',
       CASE WHEN mod(i, 10) = 0 THEN 'paused' ELSE 'active' END, 0, 10,
       3600, '[]', '["bench"]', '{}', %(now)s, %(now)s,
       CASE WHEN mod(i, 10) = 0 THEN NULL
            WHEN mod(i, %(total)s / 100) = 1 THEN %(now)s - (mod(i, 60)) * interval '1 second'
            ELSE %(now)s + (1 + mod(i, 3600)) * interval '1 second' END
FROM generate_series(1, %(total)s) AS i
"""
_EXPLAIN = """
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT * FROM tasks
WHERE status = 'active' AND next_run_at IS NOT NULL AND next_run_at <= '2026-01-01 12:00:00+00'
ORDER BY next_run_at, id
LIMIT 200
"""


async def explain(session: Session) -> list[str]:
    return [row["QUERY PLAN"] for row in await session.fetch_all(_EXPLAIN)]


@dataclass(frozen=True)
class Scan:
    """What one table size gave."""

    total: int
    loaded: float
    median_ms: float
    p95_ms: float
    plan: list[str]
    without: list[str]


async def measure(total: int, calls: int) -> Scan:
    async with throwaway_schema("due") as schema:
        db = await PostgresDatabase.open(schema_url(schema), statement_timeout=0)
        try:
            started = time.perf_counter()
            async with db.session() as session:
                await session.execute(_LOAD, {"now": NOW, "total": total})
                await session.execute("VACUUM ANALYZE tasks")
            loaded = time.perf_counter() - started
            tasks = PostgresTaskRepository(db=db)
            assert len(await tasks.due(NOW, 200)) == DUE
            timings = []
            for _ in range(calls):
                began = time.perf_counter()
                await tasks.due(NOW, 200)
                timings.append(time.perf_counter() - began)
            async with db.session() as session:
                plan = await explain(session)
            async with db.transaction() as session:
                await session.execute("DROP INDEX tasks_due, tasks_next_run_at")
                without = await explain(session)
                await session.execute("ROLLBACK")
        finally:
            await db.close()
    return Scan(
        total=total,
        loaded=loaded,
        median_ms=statistics.median(timings) * 1000,
        p95_ms=statistics.quantiles(timings, n=20)[-1] * 1000,
        plan=plan,
        without=without,
    )


def execution_ms(plan: list[str]) -> str:
    return next(line.split(":", 1)[1].strip() for line in plan if line.startswith("Execution Time"))


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,1000000", help="task counts, comma-separated")
    parser.add_argument("--calls", type=int, default=200, help="timed calls of due() per size")
    args = parser.parse_args()
    results = [await measure(int(size), args.calls) for size in args.sizes.split(",")]
    print(f"# due-schedule scan on {machine()}\n")
    rows = [
        [
            f"{r.total:,}",
            DUE,
            f"{r.loaded:.1f} s",
            f"{r.median_ms:.2f} ms",
            f"{r.p95_ms:.2f} ms",
            execution_ms(r.plan),
            execution_ms(r.without),
        ]
        for r in results
    ]
    headers = [
        "tasks",
        "due",
        "bulk load",
        "due() median",
        "due() p95",
        "server time",
        "server time, no index",
    ]
    print(table(headers, rows))
    for r in results:
        print(f"\n## EXPLAIN (ANALYZE, BUFFERS) with {r.total:,} tasks\n")
        print("\n".join(f"    {line}" for line in r.plan))
        print(f"\n## the same with the indexes on next_run_at dropped, {r.total:,} tasks\n")
        print("\n".join(f"    {line}" for line in r.without))


if __name__ == "__main__":
    asyncio.run(main())
