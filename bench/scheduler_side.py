"""The scheduler's side of the side-by-side benchmark (issue 6): W1, W2 and W3.

    uv run python bench/scheduler_side.py [--only w1|w2|w3] [--w1-tasks 20000] ...

Each workload runs on a cluster of its own (`scheduler_cluster.Cluster`): `scheduler api`, one
`scheduler dispatcher` and one `scheduler worker` on a throwaway PostgreSQL schema and Redis
namespace, every run recorded in PostgreSQL as always. Tasks are Python tasks calling
`bench_tasks` functions in the worker's pool of Python processes.

* W1: one task, triggered `tasks` times through `POST /tasks/{id}/trigger` by one keep-alive
  client (`enqueue_per_s`); once the dispatcher has queued every run on the broker, a worker
  starts, with concurrency 32 over 4 Python processes (`W1_CONCURRENCY`, `W1_PYTHON_PROCESSES`).
  Its drain rate counts from the first run seen succeeded to the last, by polling PostgreSQL
  every 5 ms: `(tasks - first_seen) / (t_last - t_first)`. The worker's peak RSS (alone, and with
  its Python processes) and the tree's PSS are sampled from its start to the end
  (`proc_stats.MemorySampler`); its CPU is the tree's user + system time at the end.
* W2: a warm worker (concurrency 4); `tasks` triggers one at a time at `rate` per second
  (absolute deadlines).
  Latency is from just before the trigger call to the task's first line (its return value).
* W3: a warm worker with concurrency `concurrency`; `tasks` runs of `time.sleep(1)` triggered
  as fast as one client can; total from the first trigger until PostgreSQL holds every run
  succeeded (polled every 5 ms).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from proc_stats import MemorySampler, percentile, tree_cpu_seconds, w1_figures, wait_until
from scheduler_cluster import ApiClient, Cluster

DRAIN_DEADLINE_SECONDS = 300.0
#: The worker in W1, for many short Python tasks on two cores: 32 runs in hand, so reports,
#: acks and fetches share round trips, over 4 Python processes (more only add switching).
W1_CONCURRENCY = 32
W1_PYTHON_PROCESSES = 4


def create_task(client: ApiClient, name: str, function: str, timeout_seconds: int = 60) -> int:
    """A Python task without a schedule; its id."""
    body = {"name": name, "task_type": "python", "command": f"bench_tasks:{function}"}
    return int(client.post("/tasks", body | {"timeout_seconds": timeout_seconds})["id"])


def trigger(client: ApiClient, task_id: int) -> int:
    """Trigger the task once; the run's id."""
    return int(client.post(f"/tasks/{task_id}/trigger")["id"])


def count(cluster: Cluster, status: str) -> int:
    return int(cluster.sql("SELECT count(*) FROM task_runs WHERE status = %s", status)[0][0])  # type: ignore[call-overload]


def run_w1(
    tasks: int = 20_000, concurrency: int = W1_CONCURRENCY, python_processes: int = W1_PYTHON_PROCESSES
) -> dict[str, float]:
    with Cluster() as cluster, cluster.client() as client:
        task_id = create_task(client, "noop", "noop")
        started = time.monotonic()
        for _ in range(tasks):
            trigger(client, task_id)
        enqueue_seconds = time.monotonic() - started
        wait_until(lambda: count(cluster, "queued") == tasks, DRAIN_DEADLINE_SECONDS, 0.05, "runs queued")
        worker = cluster.start_worker(
            worker_id="w1", concurrency=concurrency, python_processes=python_processes
        )
        with MemorySampler(worker.pid) as memory:
            wait_until(lambda: count(cluster, "succeeded") > 0, DRAIN_DEADLINE_SECONDS, 0.005, "a first run")
            first_at, first_seen = time.monotonic(), count(cluster, "succeeded")
            wait_until(
                lambda: count(cluster, "succeeded") == tasks, DRAIN_DEADLINE_SECONDS, 0.005, "the drain"
            )
            drain_seconds = time.monotonic() - first_at
            cpu = tree_cpu_seconds(worker.pid)
        return w1_figures(
            tasks=tasks,
            enqueue_seconds=enqueue_seconds,
            first_seen=first_seen,
            drain_seconds=drain_seconds,
            memory=memory,
            cpu=cpu,
        )


def run_w2(tasks: int = 500, rate: float = 50.0, concurrency: int = 4) -> dict[str, float]:
    with Cluster() as cluster, cluster.client() as client:
        task_id = create_task(client, "first-line", "first_line")
        cluster.start_worker(worker_id="w2", concurrency=concurrency)
        _warm_up(cluster, client, task_id, concurrency * 2)
        submitted: dict[int, float] = {}
        begin = time.monotonic()
        for index in range(tasks):
            _sleep_until(begin + index / rate)
            at = time.monotonic()
            submitted[trigger(client, task_id)] = at
        wait_until(
            lambda: count(cluster, "succeeded") == tasks + concurrency * 2, 60.0, 0.01, "every first line"
        )
        rows = cluster.sql(
            "SELECT id, (result->>'return_value')::float8 FROM task_runs WHERE id = ANY(%s)", list(submitted)
        )
        latencies = [(float(first) - submitted[int(run_id)]) * 1000 for run_id, first in rows]  # type: ignore[arg-type]
        return {
            "p50_ms": percentile(latencies, 50),
            "p99_ms": percentile(latencies, 99),
            "max_ms": max(latencies),
        }


def run_w3(tasks: int = 200, concurrency: int = 20) -> dict[str, float]:
    with Cluster() as cluster, cluster.client() as client:
        task_id = create_task(client, "sleep-one", "sleep_one")
        warm_id = create_task(client, "noop", "noop")
        cluster.start_worker(worker_id="w3", concurrency=concurrency)
        _warm_up(cluster, client, warm_id, concurrency * 2)
        started = time.monotonic()
        for _ in range(tasks):
            trigger(client, task_id)
        wait_until(lambda: count(cluster, "succeeded") == tasks + concurrency * 2, 60.0, 0.005, "every sleep")
        return {"total_s": time.monotonic() - started}


def _warm_up(cluster: Cluster, client: ApiClient, task_id: int, runs: int) -> None:
    """Runs enough to have started every Python process of the worker's pool."""
    for _ in range(runs):
        trigger(client, task_id)
    wait_until(lambda: count(cluster, "succeeded") == runs, 60.0, 0.01, "the warm-up runs")


def _sleep_until(deadline: float) -> None:
    remaining = deadline - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=["w1", "w2", "w3"])
    parser.add_argument("--w1-tasks", type=int, default=20_000)
    parser.add_argument("--w1-concurrency", type=int, default=W1_CONCURRENCY)
    parser.add_argument("--w1-python-processes", type=int, default=W1_PYTHON_PROCESSES)
    parser.add_argument("--w2-tasks", type=int, default=500)
    parser.add_argument("--w2-rate", type=float, default=50.0)
    parser.add_argument("--w3-tasks", type=int, default=200)
    parser.add_argument("--w3-concurrency", type=int, default=20)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    if args.only in (None, "w1"):
        results["w1"] = run_w1(args.w1_tasks, args.w1_concurrency, args.w1_python_processes)
        print("w1", results["w1"], flush=True)
    if args.only in (None, "w2"):
        results["w2"] = run_w2(args.w2_tasks, args.w2_rate)
        print("w2", results["w2"], flush=True)
    if args.only in (None, "w3"):
        results["w3"] = run_w3(args.w3_tasks, args.w3_concurrency)
        print("w3", results["w3"], flush=True)


if __name__ == "__main__":
    main()
