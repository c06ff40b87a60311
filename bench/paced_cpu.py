"""CPU per run when runs come one at a time (W2's pace), by process: what a run costs unbatched.

    uv run python bench/paced_cpu.py [--runs 400] [--rate 50]

A throwaway cluster (`scheduler_cluster.Cluster`: api, one dispatcher, one warm worker of
concurrency 4) takes `runs` triggers of a Python task at `rate` per second, one at a time, each
over before the next arrives. Printed, per process: its CPU while idle (per second, measured for
3 s before the first trigger), and its CPU per run over the triggers and until every run ended
(the worker with its Python processes). At this pace nothing is shared between runs: every run
pays its own round trips, wake-ups and status writes, which the drain (`drain_breakdown.py`)
shares among many.
"""

from __future__ import annotations

import argparse
import time

from proc_stats import tree_cpu_seconds, wait_until
from scheduler_cluster import Cluster
from scheduler_side import count, create_task, trigger

IDLE_SECONDS = 3.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--rate", type=float, default=50.0)
    args = parser.parse_args()
    with Cluster() as cluster, cluster.client() as client:
        task_id = create_task(client, "wall-clock", "wall_clock")
        worker = cluster.start_worker(worker_id="paced", concurrency=4)
        for _ in range(8):  # every Python process started
            trigger(client, task_id)
        wait_until(lambda: count(cluster, "succeeded") == 8, 60, 0.01, "the warm-up runs")
        pids = {
            "api": cluster.processes("api")[0].pid,
            "dispatcher": cluster.processes("dispatcher")[0].pid,
            "worker": worker.pid,
        }
        idle_from = {role: tree_cpu_seconds(pid) for role, pid in pids.items()}
        time.sleep(IDLE_SECONDS)
        busy_from = {role: tree_cpu_seconds(pid) for role, pid in pids.items()}
        begin = time.monotonic()
        for index in range(args.runs):
            time.sleep(max(0.0, begin + index / args.rate - time.monotonic()))
            trigger(client, task_id)
        wait_until(lambda: count(cluster, "succeeded") == args.runs + 8, 60, 0.01, "every run")
        busy_to = {role: tree_cpu_seconds(pid) for role, pid in pids.items()}
    for role in pids:
        idle = (busy_from[role] - idle_from[role]) / IDLE_SECONDS * 1000
        per_run = (busy_to[role] - busy_from[role]) / args.runs * 1000
        print(f"{role:10s} idle {idle:5.1f} ms CPU per s   per run {per_run:5.2f} ms CPU")


if __name__ == "__main__":
    main()
