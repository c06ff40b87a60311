"""What one API request costs, one keep-alive client sending one request at a time.

    uv run python bench/api_requests.py [--requests 3000]

A throwaway cluster (`scheduler_cluster.Cluster`: api and one dispatcher on PostgreSQL and Redis;
no worker, so triggered runs wait queued) answers `requests` of each kind in turn:
`GET /tasks/{id}` (authentication and one read) and `POST /tasks/{id}/trigger` (authentication,
the task read, the run and its audit entry stored in one committed statement). For each: the
client's time per request, and the API process's CPU per request (utime + stime from /proc).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from proc_stats import cpu_seconds
from scheduler_cluster import ApiClient, Cluster
from scheduler_side import create_task, trigger


def measure(api_pid: int, requests: int, send: Callable[[], object]) -> tuple[float, float]:
    """Milliseconds per request at the client, and of the API's CPU, over `requests` sends."""
    send()  # a first one outside the count: caches and prepared statements warm
    cpu_before, started = cpu_seconds(api_pid), time.monotonic()
    for _ in range(requests):
        send()
    elapsed, cpu = time.monotonic() - started, cpu_seconds(api_pid) - cpu_before
    return elapsed / requests * 1000, cpu / requests * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    with Cluster() as cluster, cluster.client() as client:
        task_id = create_task(client, "noop", "noop")
        [api] = cluster.processes("api")
        kinds: dict[str, Callable[[ApiClient], object]] = {
            "GET /tasks/{id}": lambda c: c.get(f"/tasks/{task_id}"),
            "POST /tasks/{id}/trigger": lambda c: trigger(c, task_id),
        }
        for name, send in kinds.items():
            per_request, cpu = measure(api.pid, args.requests, lambda send=send: send(client))
            rate = 1000 / per_request
            print(f"{name:26s} {per_request:5.2f} ms per request, API CPU {cpu:5.2f} ms ({rate:,.0f}/s)")


if __name__ == "__main__":
    main()
