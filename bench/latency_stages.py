"""Where the time from submit to first line goes (W2's path), stage by stage.

    uv run python bench/latency_stages.py [--runs 100] [--rate 20]

A throwaway cluster (api, one dispatcher, one warm worker of concurrency 4) takes `runs`
triggers of a Python task whose first line returns `time.time()`, one at a time at `rate` per
second. From the timestamps PostgreSQL keeps for each run, on the same clock: submit -> created
(the API read the task and built the run), created -> queued (stored, the dispatcher woken and
its claim made), queued -> started (published, taken by the worker, its start stamped), started
-> first line (handed to a Python process). p50 and p90 of each, in ms.
"""

from __future__ import annotations

import argparse
import itertools
import time

from proc_stats import percentile, wait_until
from scheduler_cluster import Cluster
from scheduler_side import count, create_task, trigger

STAGES = ("submit -> created", "created -> queued", "queued -> started", "started -> first line", "total")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--rate", type=float, default=20.0)
    args = parser.parse_args()
    with Cluster() as cluster, cluster.client() as client:
        task_id = create_task(client, "wall-clock", "wall_clock")
        cluster.start_worker(worker_id="stages", concurrency=4)
        for _ in range(8):  # every Python process started
            trigger(client, task_id)
        wait_until(lambda: count(cluster, "succeeded") == 8, 60, 0.01, "the warm-up runs")
        submitted: dict[int, float] = {}
        begin = time.monotonic()
        for index in range(args.runs):
            time.sleep(max(0.0, begin + index / args.rate - time.monotonic()))
            at = time.time()
            submitted[trigger(client, task_id)] = at
        wait_until(lambda: count(cluster, "succeeded") == args.runs + 8, 60, 0.01, "every first line")
        rows = cluster.sql(
            "SELECT id, extract(epoch FROM created_at), extract(epoch FROM queued_at), "
            "extract(epoch FROM started_at), (result->>'return_value')::float8 "
            "FROM task_runs WHERE id = ANY(%s)",
            list(submitted),
        )
    stages: dict[str, list[float]] = {stage: [] for stage in STAGES}
    for run_id, created, queued, started, first in rows:
        moments = [submitted[int(run_id)], float(created), float(queued), float(started), float(first)]  # type: ignore[arg-type]
        for stage, (start, end) in zip(STAGES, itertools.pairwise(moments), strict=False):
            stages[stage].append((end - start) * 1000)
        stages["total"].append((moments[-1] - moments[0]) * 1000)
    for stage, values in stages.items():
        print(f"{stage:24s} p50 {percentile(values, 50):6.2f} ms   p90 {percentile(values, 90):6.2f} ms")


if __name__ == "__main__":
    main()
