"""Fire lateness: how long after its scheduled time a cron fire is dispatched (issue 5).

    uv run python bench/fire_lateness.py [--minute-tasks 10000] [--second-tasks 500] [--seconds 15]

For each workload and for one and two `scheduler dispatcher` processes, on a throwaway
PostgreSQL schema and a throwaway Redis namespace (no worker: dispatched runs stay queued):

* minute: N tasks on `* * * * *`, measured over the next minute boundary's fire;
* second: M tasks on `* * * * * *`, measured over a window of S seconds.

Lateness is `queued_at - scheduled_for` of every run (the moment the run's message is in the
broker), reported as p50 / p99 / max, with the dispatchers' CPU use over the window.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import time
from datetime import UTC, datetime

import psycopg
import redis
from pg_common import machine, schema_url, table, throwaway_schema

from scheduler_domain import Task
from scheduler_infrastructure import PostgresDatabase, PostgresTaskRepository

REDIS_URL = os.environ.get("SCHEDULER_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
TICKS = os.sysconf("SC_CLK_TCK")


async def create_tasks(schema: str, count: int, schedule: str) -> None:
    """One task through the repository, then `count - 1` copies of its row in one INSERT."""
    db = await PostgresDatabase.open(schema_url(schema), statement_timeout=0)
    try:
        first = await PostgresTaskRepository(db=db).add(
            Task(name="tick-1", command="true", schedule=schedule).rescheduled(datetime.now(UTC))
        )
    finally:
        await db.close()
    with psycopg.connect(schema_url(schema), autocommit=True) as conn:
        columns = [
            row[0]
            for row in conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = 'tasks' AND column_name NOT IN ('id', 'name')",
                [schema],
            )
        ]
        listed = ", ".join(columns)
        conn.execute(
            f"INSERT INTO tasks (name, {listed}) SELECT 'tick-' || g, {listed} "
            "FROM tasks, generate_series(2, %s) AS g WHERE id = %s",
            [count, first.id],
        )


def start_dispatchers(count: int, schema: str, namespace: str) -> list[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDULER_")}
    env |= {
        "SCHEDULER_DATABASE__URL": schema_url(schema),
        "SCHEDULER_QUEUE__URL": REDIS_URL,
        "SCHEDULER_QUEUE__NAMESPACE": namespace,
        "SCHEDULER_LOGGING__LEVEL": "WARNING",
    }
    return [
        subprocess.Popen([sys.executable, "-m", "scheduler_app", "dispatcher"], env=env) for _ in range(count)
    ]


def cpu_seconds(process: subprocess.Popen[bytes]) -> float:
    fields = open(f"/proc/{process.pid}/stat").read().rpartition(")")[2].split()  # noqa: SIM115
    return (int(fields[11]) + int(fields[12])) / TICKS


def lateness(schema: str, since: datetime, until: datetime) -> tuple[int, float, float, float]:
    with psycopg.connect(schema_url(schema)) as conn:
        row = conn.execute(
            "SELECT count(*), "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM queued_at - scheduled_for)), "
            "percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM queued_at - scheduled_for)), "
            "max(extract(epoch FROM queued_at - scheduled_for)) "
            "FROM task_runs WHERE scheduled_for >= %s AND scheduled_for < %s AND queued_at IS NOT NULL",
            [since, until],
        ).fetchone()
    assert row is not None
    return int(row[0]), float(row[1] or 0) * 1000, float(row[2] or 0) * 1000, float(row[3] or 0) * 1000


def queued_count(schema: str, since: datetime, until: datetime) -> int:
    with psycopg.connect(schema_url(schema)) as conn:
        row = conn.execute(
            "SELECT count(*) FROM task_runs WHERE scheduled_for >= %s AND scheduled_for < %s "
            "AND queued_at IS NOT NULL",
            [since, until],
        ).fetchone()
    return int(row[0]) if row else 0


async def measure(kind: str, tasks: int, dispatchers: int, seconds: int) -> list[object]:
    namespace = f"bench-{secrets.token_hex(4)}."
    async with throwaway_schema("fires") as schema:
        await create_tasks(schema, tasks, "* * * * *" if kind == "minute" else "* * * * * *")
        processes = start_dispatchers(dispatchers, schema, namespace)
        try:
            await asyncio.sleep(2)  # start-up: connect, check the schema, first pass
            if kind == "minute":
                boundary = datetime.fromtimestamp((int(time.time()) // 60 + 1) * 60, UTC)
                since, until = boundary, datetime.fromtimestamp(boundary.timestamp() + 1, UTC)
                await asyncio.sleep(max(0.0, boundary.timestamp() - time.time()))
                expected = tasks
            else:
                since = datetime.fromtimestamp(int(time.time()) + 1, UTC)
                until = datetime.fromtimestamp(since.timestamp() + seconds, UTC)
                await asyncio.sleep(max(0.0, since.timestamp() - time.time()))
                expected = tasks * seconds
            cpu_before = sum(cpu_seconds(p) for p in processes)
            started = time.monotonic()
            deadline = time.monotonic() + seconds + 120
            while queued_count(schema, since, until) < expected and time.monotonic() < deadline:  # noqa: ASYNC110 - polling another process
                await asyncio.sleep(0.5)
            window = time.monotonic() - started
            cpu = sum(cpu_seconds(p) for p in processes) - cpu_before
            count, p50, p99, worst = lateness(schema, since, until)
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=30)
            client = redis.Redis.from_url(REDIS_URL)
            keys = list(client.scan_iter(match=f"{namespace}*"))
            if keys:
                client.delete(*keys)
            client.close()
    cpu_share = f"{100 * cpu / window / dispatchers:.0f}%" if window else "n/a"
    return [
        kind,
        tasks,
        dispatchers,
        f"{count}/{expected}",
        f"{p50:.0f}",
        f"{p99:.0f}",
        f"{worst:.0f}",
        cpu_share,
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minute-tasks", type=int, default=10_000)
    parser.add_argument("--second-tasks", type=int, default=500)
    parser.add_argument("--seconds", type=int, default=15)
    args = parser.parse_args()
    rows = []
    for kind, tasks in (("minute", args.minute_tasks), ("second", args.second_tasks)):
        for dispatchers in (1, 2):
            rows.append(asyncio.run(measure(kind, tasks, dispatchers, args.seconds)))
            print(rows[-1], flush=True)
    print(f"\n{machine()}\n")
    headers = [
        "cron",
        "tasks",
        "dispatchers",
        "runs dispatched",
        "p50 ms",
        "p99 ms",
        "max ms",
        "CPU per dispatcher",
    ]
    print(table(headers, rows))


if __name__ == "__main__":
    main()
