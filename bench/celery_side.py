"""The Celery half of the side-by-side benchmark (bench/workers_vs_celery.py): Celery 5, Redis broker.

    uv run --group bench python bench/celery_side.py [--only w1|w2|w3] [--w1-tasks 20000]
        [--w2-tasks 500] [--w2-rate 50] [--w3-tasks 200] [--w3-concurrency 20]

Each workload starts its own worker subprocess,

    python -m celery -A celery_app worker --pool=prefork --concurrency=N --loglevel=WARNING
        -Q <queue> --without-gossip --without-mingle --without-heartbeat -n bench-<hex>@%h

on a queue of its own (`bench-<8 hex>`, on the database of `BENCH_CELERY_BROKER`, default
`redis://127.0.0.1:6379/13`), stops it at the end (SIGTERM, then SIGKILL after 30 s) and deletes
the Redis keys the run created. The app is `celery_app.py` (Celery's defaults: json, prefetch
multiplier 4, acks just before execution, fair scheduling). Worker start-up is in no figure; every
wait has a deadline. The driver polls Redis every 5 ms, so times observed through polling are late
by up to 5 ms plus one round trip. Every submission is `task.apply_async(args, producer=p)` (what
`task.delay(*args)` does, minus the pool acquire) on one producer and broker connection per run.

W1, throughput (`run_w1`): `tasks` no-op tasks.
* `enqueue_per_s`: `tasks / seconds` to publish them all with `noop.apply_async()` from this
  process through one producer (one broker connection, opened before the clock starts), with no
  worker running.
* Then a worker with 2 prefork processes starts on the full queue. Each task increments a Redis
  counter. The driver polls it: `t_first` is the first poll that sees it above 0 (the value seen
  is `first_seen`), `t_all` the first poll that sees `tasks`. `drain_seconds = t_all - t_first`
  and `drain_per_s = (tasks - first_seen) / drain_seconds`: the steady rate, start-up excluded.
* `peak_rss_main_mb`, `peak_rss_tree_mb`: `proc_stats.MemorySampler` (20 ms) on the worker from
  its start to `t_all`: peak RSS of the main process, and peak of the summed RSS of the main
  process and its pool children (shared copy-on-write pages count once per process).
* `worker_cpu_seconds`: user + system CPU of the worker's main process and its pool children at
  `t_all`, from /proc. This is cumulative since the worker started, so it includes the start-up
  (imports, forking the pool, connecting): about 2 s of CPU for an idle 2-process worker on the
  2-core reference machine.

W2, latency at a steady rate (`run_w2`): a worker with 2 prefork processes, warmed up with 4
`first_line` tasks (negative indexes) that must all have run before the measurement starts. Then
`tasks` `first_line.delay(i)` are submitted one at a time at `rate` per second (task i at
`t0 + i / rate`, absolute), the driver reading `time.monotonic()` just before each `delay`. The
task's first statement reads `time.monotonic()` (CLOCK_MONOTONIC is system-wide). Latency =
task start - submit time; `p50_ms`, `p99_ms`, `max_ms` over all tasks (percentiles by linear
interpolation, `proc_stats.percentile`).

W3, I/O-bound concurrency (`run_w3`): a worker with `concurrency` prefork processes, warmed up
with `concurrency` no-ops (all run, then the counter is reset). `t0`, then `tasks`
`sleep_one.delay()` (each sleeps 1 s, then increments the counter); `total_s = t_done - t0`,
where `t_done` is the first poll that sees the counter at `tasks`. The ideal is
`ceil(tasks / concurrency)` seconds.

The driver needs `bench/` on sys.path (it is when a bench script is run as a file): this module
imports `proc_stats` and `celery_app`. The worker gets `PYTHONPATH=bench/` and runs in `bench/`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Self, TypeVar

import celery_app
import redis
from celery import Celery, Task
from proc_stats import MemorySampler, descendants, percentile, tree_cpu_seconds, w1_figures, wait_until

T = TypeVar("T")

BENCH_DIR = Path(__file__).resolve().parent
BROKER_URL = celery_app.BROKER_URL
POLL = 0.005
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
W2_WARMUP_TASKS = 4


class CeleryRun:
    """One workload's queue, producer app and worker; cleans all of them up on exit.

    `start_worker()` launches the worker subprocess; leaving the `with` block stops it (SIGTERM,
    wait, SIGKILL) and deletes the run's Redis keys.
    """

    def __init__(self, broker_url: str = BROKER_URL) -> None:
        self.broker_url = broker_url
        self.tag = uuid.uuid4().hex[:8]
        self.queue = f"bench-{self.tag}"
        self.node = f"bench-{self.tag}"
        self.done_key = celery_app.done_key(self.queue)
        self.first_line_key = celery_app.first_line_key(self.queue)
        self.redis = redis.Redis.from_url(broker_url)
        self.app: Celery = celery_app.make_app(broker_url, self.queue)
        # One producer on a connection of this run's own (not kombu's process-wide pools).
        self.connection = self.app.connection_for_write()
        self.producer = self.app.amqp.Producer(self.connection)
        self.worker: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    # ------------------------------------------------------------------ worker

    def start_worker(self, concurrency: int) -> subprocess.Popen[bytes]:
        if self.worker is not None:
            raise RuntimeError("worker already started")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(BENCH_DIR), env.get("PYTHONPATH")) if p)
        env["BENCH_CELERY_BROKER"] = self.broker_url
        env["BENCH_CELERY_QUEUE"] = self.queue
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "celery_app",
            "worker",
            "--pool=prefork",
            f"--concurrency={concurrency}",
            "--loglevel=WARNING",
            "-Q",
            self.queue,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"{self.node}@%h",
        ]
        self._log = tempfile.TemporaryFile(prefix=f"{self.node}-", suffix=".log")  # noqa: SIM115
        self.worker = subprocess.Popen(
            command, cwd=BENCH_DIR, env=env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log
        )
        return self.worker

    def worker_log(self, tail: int = 4000) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-tail:]

    def check_worker(self) -> None:
        """Raise if the worker has exited (a wait would otherwise run to its deadline)."""
        if self.worker is not None and self.worker.poll() is not None:
            status = self.worker.returncode
            raise RuntimeError(
                f"celery worker exited with status {status}; its log ends:\n{self.worker_log()}"
            )

    def stop_worker(self) -> None:
        worker, self.worker = self.worker, None
        if worker is None:
            return
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)  # warm shutdown
            try:
                worker.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                for pid in [*descendants(worker.pid), worker.pid]:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                worker.wait(STOP_TIMEOUT)
        if self._log is not None:
            self._log.close()
            self._log = None

    # ------------------------------------------------------------------ polling

    def wait(self, predicate: Callable[[], T], timeout: float, what: str) -> T:
        """`wait_until` every 5 ms, failing at once if the worker dies."""

        def check() -> T:
            self.check_worker()
            return predicate()

        return wait_until(check, timeout, POLL, f"{what} (queue {self.queue})")

    def connect(self) -> None:
        """Open the producer's broker connection now, so that no timed section pays for it."""
        self.connection.ensure_connection(max_retries=3)

    def send(self, task: Task, *args: object) -> None:
        """`task.delay(*args)` through this run's producer."""
        task.apply_async(args, producer=self.producer)

    def done(self) -> int:
        return int(self.redis.get(self.done_key) or 0)

    # ------------------------------------------------------------------ cleanup

    def delete_keys(self) -> None:
        """Delete every key this run created, and the worker's traces in shared kombu keys."""
        r = self.redis
        keys = list(r.scan_iter(match=f"{self.queue}*", count=1000))  # queue (+ priorities), counters
        keys += [f"_kombu.binding.{self.queue}", f"_kombu.binding_permanent.{self.queue}"]
        r.delete(*keys)
        # The worker's remote-control binding: removed by a warm shutdown, left by a SIGKILL.
        pidbox = "_kombu.binding.celery.pidbox"
        mine = [m for m in r.smembers(pidbox) if f"{self.node}@".encode() in m]
        if mine:
            r.srem(pidbox, *mine)
            r.srem("_kombu.binding_permanent.celery.pidbox", *mine)
        # kombu 5.7 records an expiry deadline for the pidbox binding; stale once no worker is bound.
        if not r.exists(pidbox):
            r.zrem("_kombu.binding_deadlines", "celery.pidbox")
        # Unacked messages of this queue (only left if the worker had to be killed).
        for tag, raw in r.hscan_iter("unacked"):
            try:
                _message, exchange, routing_key = json.loads(raw)
            except (ValueError, TypeError):
                continue
            if self.queue in (exchange, routing_key):
                r.hdel("unacked", tag)
                r.zrem("unacked_index", tag)

    def close(self) -> None:
        try:
            self.stop_worker()
        finally:
            try:
                self.delete_keys()
            finally:
                self.connection.release()
                self.app.close()
                self.redis.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def run_w1(tasks: int = 20_000) -> dict[str, float]:
    """Enqueue rate, then drain rate, memory and CPU of a 2-process prefork worker (see module doc)."""
    if tasks < 2:
        raise ValueError("W1 needs at least 2 tasks")
    with CeleryRun() as run:
        r = run.redis
        r.delete(run.queue, run.done_key)
        noop = run.app.tasks[celery_app.NOOP]
        run.connect()
        start = time.perf_counter()
        for _ in range(tasks):
            run.send(noop)
        enqueue_s = time.perf_counter() - start
        queued = r.llen(run.queue)
        if queued != tasks:
            raise RuntimeError(f"{queued} messages in {run.queue} after publishing {tasks}")

        worker = run.start_worker(concurrency=2)
        with MemorySampler(worker.pid) as memory:
            first_seen = run.wait(run.done, STARTUP_TIMEOUT, "the first no-op to complete")
            t_first = time.monotonic()
            run.wait(lambda: run.done() >= tasks, 300.0, f"{tasks} no-ops to complete")
            t_all = time.monotonic()
            cpu = tree_cpu_seconds(worker.pid)
        if first_seen >= tasks:
            raise RuntimeError(f"all {tasks} tasks were done at the first poll; use more tasks")
        return w1_figures(
            tasks=tasks,
            enqueue_seconds=enqueue_s,
            first_seen=first_seen,
            drain_seconds=t_all - t_first,
            memory=memory,
            cpu=cpu,
        )


def run_w2(tasks: int = 500, rate: float = 50.0) -> dict[str, float]:
    """Submit-to-start latency of `first_line` tasks paced at `rate` per second (see module doc)."""
    if tasks < 1 or rate <= 0:
        raise ValueError("W2 needs tasks >= 1 and rate > 0")
    with CeleryRun() as run:
        r = run.redis
        first_line = run.app.tasks[celery_app.FIRST_LINE]
        run.start_worker(concurrency=2)
        for i in range(1, W2_WARMUP_TASKS + 1):
            run.send(first_line, -i)
        run.wait(lambda: r.llen(run.first_line_key) >= W2_WARMUP_TASKS, STARTUP_TIMEOUT, "the warm-up tasks")
        r.delete(run.first_line_key)

        submitted = [0.0] * tasks
        t0 = time.monotonic()
        for i in range(tasks):
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            submitted[i] = time.monotonic()
            run.send(first_line, i)
        run.wait(
            lambda: r.llen(run.first_line_key) >= tasks, tasks / rate + 60.0, f"{tasks} first_line tasks"
        )

        latencies = [0.0] * tasks
        seen: set[int] = set()
        for raw in r.lrange(run.first_line_key, 0, -1):
            index_text, started_text = raw.decode().split()
            index = int(index_text)
            if not 0 <= index < tasks or index in seen:
                raise RuntimeError(f"unexpected first_line entry {raw!r}")
            seen.add(index)
            latencies[index] = float(started_text) - submitted[index]
        if len(seen) != tasks:
            raise RuntimeError(f"{tasks - len(seen)} first_line tasks missing")
        return {
            "p50_ms": percentile(latencies, 50) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000,
            "max_ms": max(latencies) * 1000,
        }


def run_w3(tasks: int = 200, concurrency: int = 20) -> dict[str, float]:
    """Wall time for `tasks` one-second sleeps on a `concurrency`-process prefork worker (see module doc)."""
    if tasks < 1 or concurrency < 1:
        raise ValueError("W3 needs tasks >= 1 and concurrency >= 1")
    with CeleryRun() as run:
        noop = run.app.tasks[celery_app.NOOP]
        sleep_one = run.app.tasks[celery_app.SLEEP_ONE]
        run.start_worker(concurrency=concurrency)
        for _ in range(concurrency):
            run.send(noop)
        run.wait(lambda: run.done() >= concurrency, STARTUP_TIMEOUT, "the warm-up no-ops")
        run.redis.delete(run.done_key)

        ideal = math.ceil(tasks / concurrency)
        t0 = time.monotonic()
        for _ in range(tasks):
            run.send(sleep_one)
        run.wait(lambda: run.done() >= tasks, 3 * ideal + 60.0, f"{tasks} sleep_one tasks")
        return {"total_s": time.monotonic() - t0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--w1-tasks", type=int, default=20_000)
    parser.add_argument("--w2-tasks", type=int, default=500)
    parser.add_argument("--w2-rate", type=float, default=50.0)
    parser.add_argument("--w3-tasks", type=int, default=200)
    parser.add_argument("--w3-concurrency", type=int, default=20)
    parser.add_argument("--only", choices=("w1", "w2", "w3"), help="run one workload (default: all three)")
    args = parser.parse_args()

    workloads: dict[str, Callable[[], dict[str, float]]] = {
        "w1": lambda: run_w1(args.w1_tasks),
        "w2": lambda: run_w2(args.w2_tasks, args.w2_rate),
        "w3": lambda: run_w3(args.w3_tasks, args.w3_concurrency),
    }
    print(f"Celery side, broker {BROKER_URL}, {os.cpu_count()} CPUs")
    for name, workload in workloads.items():
        if args.only and name != args.only:
            continue
        started = time.monotonic()
        result = workload()
        figures = ", ".join(f"{key}={value:.6g}" for key, value in result.items())
        print(f"{name} ({time.monotonic() - started:.1f} s): {figures}", flush=True)


if __name__ == "__main__":
    main()
