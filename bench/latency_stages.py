"""Where the time from submit to first line goes (W2's path), stage by stage.

    uv run python bench/latency_stages.py [--runs 100] [--rate 20] [--redis-side]

A throwaway cluster (api, one dispatcher, one warm worker of concurrency 4) takes `runs`
triggers of a Python task whose first line returns `time.time()`, one at a time at `rate` per
second. From the timestamps PostgreSQL keeps for each run, on the same clock: submit -> created
(the API read the task and built the run), created -> queued (stored, the dispatcher woken and
its claim made), queued -> started (published, taken by the worker, its start stamped), started
-> first line (handed to a Python process). p50 and p90 of each, in ms.

`--redis-side` splits queued -> started at Redis, whose `MONITOR` stamps each command it runs:
queued -> published (the claim's commit and the message built and sent: the first `XADD` after
the claim), published -> fetched (the worker woken and its fetch run: the first `XREADGROUP`
after it) and fetched -> started. `MONITOR` slows Redis a little; the totals shift accordingly.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import itertools
import threading
import time
from collections.abc import Callable

import redis
from proc_stats import percentile, wait_until
from scheduler_cluster import REDIS_URL, Cluster
from scheduler_side import count, create_task, trigger

STAGES = ("submit -> created", "created -> queued", "queued -> started", "started -> first line")
REDIS_STAGES = ("queued -> published", "published -> fetched", "fetched -> started")


class RedisCommands:
    """The commands Redis runs, each with the time it stamped on it, as `MONITOR` reports them."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, str]] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> RedisCommands:
        self._thread.start()
        with redis.Redis.from_url(REDIS_URL) as client:  # MONITOR is on before the first trigger
            wait_until(lambda: _monitoring(client), 10, 0.01, "Redis to take the MONITOR")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()
        self.seen.sort()

    def first(self, name: str, after: float, within: float = 0.05) -> float | None:
        """When Redis first ran `name` in the `within` seconds after `after`, if it did."""
        index = bisect.bisect_left(self.seen, (after, ""))
        for at, command in itertools.islice(self.seen, index, None):
            if at > after + within:
                return None
            if command.startswith(name + " "):
                return at
        return None

    def _watch(self) -> None:
        with redis.Redis.from_url(REDIS_URL).monitor() as monitor:
            for command in monitor.listen():
                if self._stopping.is_set():
                    return
                self.seen.append((float(command["time"]), str(command["command"])))


def _monitoring(client: redis.Redis) -> bool:
    return any(entry.get("cmd") == "monitor" for entry in client.client_list())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--redis-side", action="store_true", help="split queued -> started at Redis")
    args = parser.parse_args()
    commands = RedisCommands()
    with Cluster() as cluster, cluster.client() as client:
        task_id = create_task(client, "wall-clock", "wall_clock")
        cluster.start_worker(worker_id="stages", concurrency=4)
        for _ in range(8):  # every Python process started
            trigger(client, task_id)
        wait_until(lambda: count(cluster, "succeeded") == 8, 60, 0.01, "the warm-up runs")
        submitted: dict[int, float] = {}
        with commands if args.redis_side else contextlib.nullcontext():
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
    stages: dict[str, list[float]] = {stage: [] for stage in (*STAGES, *REDIS_STAGES, "total")}
    for run_id, created, queued, started, first in rows:
        moments = [submitted[int(run_id)], float(created), float(queued), float(started), float(first)]  # type: ignore[arg-type]
        for stage, (start, end) in zip(STAGES, itertools.pairwise(moments), strict=True):
            stages[stage].append((end - start) * 1000)
        stages["total"].append((moments[-1] - moments[0]) * 1000)
        if args.redis_side:
            _split_at_redis(stages, commands.first, queued=moments[2], started=moments[3])
    for stage, values in stages.items():
        if values:
            print(f"{stage:24s} p50 {percentile(values, 50):6.2f} ms   p90 {percentile(values, 90):6.2f} ms")


def _split_at_redis(
    stages: dict[str, list[float]],
    first: Callable[[str, float], float | None],
    *,
    queued: float,
    started: float,
) -> None:
    published = first("XADD", queued)
    fetched = first("XREADGROUP", published) if published is not None else None
    if published is None or fetched is None:
        return
    for stage, (start, end) in zip(
        REDIS_STAGES, itertools.pairwise([queued, published, fetched, started]), strict=True
    ):
        stages[stage].append((end - start) * 1000)


if __name__ == "__main__":
    main()
