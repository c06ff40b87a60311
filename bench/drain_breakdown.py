"""Where the CPU of a drain goes: per run, by process (worker and its pool, dispatcher, PostgreSQL, Redis).

    uv run python bench/drain_breakdown.py [--runs 5000] [--concurrency 32] [--python-processes 4]

A throwaway cluster (`scheduler_cluster.Cluster`: api, one dispatcher) takes `runs` triggers of
a no-op Python task; once all are queued on the broker a worker starts and drains them. Printed:
the drain rate (first end seen to last, PostgreSQL polled every 5 ms) and the CPU time each
party spent during the drain divided by the runs: the worker with its Python processes, the
dispatcher (whose status applier records every start and end), every `postgres` process and
every `redis-server` process of the machine (so run it on a quiet machine).
"""

from __future__ import annotations

import argparse
import os
import time

from proc_stats import cpu_seconds, tree_cpu_seconds, wait_until
from scheduler_cluster import Cluster
from scheduler_side import count, create_task, trigger

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_of_command(names: set[str]) -> float:
    """User + system seconds of every live process whose command name is in `names`."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm", encoding="utf-8") as comm:
                if comm.read().strip() not in names:
                    continue
            with open(f"/proc/{entry}/stat", encoding="utf-8") as stat:
                fields = stat.read().rpartition(")")[2].split()
        except OSError:  # gone meanwhile
            continue
        total += (int(fields[11]) + int(fields[12])) / _TICKS
    return total


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--python-processes", type=int, default=4)
    args = parser.parse_args()
    runs = args.runs
    with Cluster() as cluster, cluster.client() as client:
        task_id = create_task(client, "noop", "noop")
        for _ in range(runs):
            trigger(client, task_id)
        wait_until(lambda: count(cluster, "queued") == runs, 120, 0.05, "every run queued")
        dispatcher = cluster.processes("dispatcher")[0]
        worker = cluster.start_worker(
            worker_id="drain", concurrency=args.concurrency, python_processes=args.python_processes
        )
        before = (
            tree_cpu_seconds(worker.pid),
            cpu_seconds(dispatcher.pid),
            cpu_of_command({"postgres"}),
            cpu_of_command({"redis-server"}),
        )
        wait_until(lambda: count(cluster, "succeeded") > 0, 120, 0.005, "a first run")
        first_at, first_seen = time.monotonic(), count(cluster, "succeeded")
        wait_until(lambda: count(cluster, "succeeded") == runs, 300, 0.005, "the drain")
        seconds = time.monotonic() - first_at
        after = (
            tree_cpu_seconds(worker.pid),
            cpu_seconds(dispatcher.pid),
            cpu_of_command({"postgres"}),
            cpu_of_command({"redis-server"}),
        )
    spent = [(end - start) / runs * 1000 for start, end in zip(before, after, strict=True)]
    print(f"drain: {(runs - first_seen) / seconds:,.0f} runs/s over {seconds:.2f} s")
    print(
        "CPU per run, ms: "
        + ", ".join(
            f"{name} {ms:.3f}"
            for name, ms in zip(["worker+pool", "dispatcher", "postgres", "redis"], spent, strict=True)
        )
        + f"; total {sum(spent):.3f}"
    )


if __name__ == "__main__":
    main()
