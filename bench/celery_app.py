"""The Celery application the Celery side of the benchmark runs (`celery -A celery_app worker`).

Configuration, otherwise Celery 5's defaults (json serializer, prefetch multiplier 4, acks before
execution, fair scheduling for the prefork pool):

* broker: `BENCH_CELERY_BROKER` (default `redis://127.0.0.1:6379/13`); no result backend;
* `task_default_queue`: `BENCH_CELERY_QUEUE` (default `bench`); every task is `ignore_result=True`.

Tasks, which report to the driver through plain Redis keys on the broker's database:

* `noop()`: `INCR <queue>:done` and nothing else (the counter is how the driver sees completions);
* `first_line(index)`: its first statement reads `time.monotonic()`, then it does
  `RPUSH <queue>:first_line "<index> <t>"` (CLOCK_MONOTONIC is system-wide, so the driver can
  subtract the time it took just before submitting the task);
* `sleep_one()`: `time.sleep(1)`, then `INCR <queue>:done`.

Each process keeps one Redis client, created in the process that uses it (a forked pool child
never reuses its parent's socket). Pool children create and connect theirs at start-up, from the
`worker_process_init` signal, so no task pays for the connection.

The driver (`celery_side.py`) builds its own producer-side app per run with `make_app(broker,
queue)`; this module's `app` is the one the worker loads, configured from the environment.
"""

from __future__ import annotations

import os
import time
from typing import Any

import redis
from celery import Celery
from celery.signals import worker_process_init

BROKER_URL = os.environ.get("BENCH_CELERY_BROKER", "redis://127.0.0.1:6379/13")
QUEUE = os.environ.get("BENCH_CELERY_QUEUE", "bench")

NOOP = "celery_app.noop"
FIRST_LINE = "celery_app.first_line"
SLEEP_ONE = "celery_app.sleep_one"


def done_key(queue: str) -> str:
    """The counter `noop` and `sleep_one` increment."""
    return f"{queue}:done"


def first_line_key(queue: str) -> str:
    """The list `first_line` appends `"<index> <monotonic time>"` to."""
    return f"{queue}:first_line"


_client: redis.Redis | None = None
_client_pid = 0


def _redis() -> redis.Redis:
    """This process's Redis client (on the broker's database), created on first use after a fork."""
    global _client, _client_pid  # noqa: PLW0603
    pid = os.getpid()
    if _client is None or _client_pid != pid:
        _client = redis.Redis.from_url(BROKER_URL)
        _client_pid = pid
    return _client


@worker_process_init.connect
def _connect_in_child(**_: Any) -> None:
    _redis().ping()


def make_app(broker_url: str = BROKER_URL, queue: str = QUEUE, *, set_as_current: bool = False) -> Celery:
    """A Celery app on `broker_url` whose default queue is `queue`, with the three bench tasks.

    The tasks report to the keys of `queue` through this module's client, which is on
    `BROKER_URL`: they only ever run in a worker, whose environment names the same broker and queue.
    """
    app = Celery("celery_app", broker=broker_url, set_as_current=set_as_current)
    app.conf.update(
        task_default_queue=queue,
        # The default (None) behaves as True but warns at every start.
        broker_connection_retry_on_startup=True,
    )

    @app.task(name=NOOP, ignore_result=True, shared=False)
    def noop() -> None:
        _redis().incr(done_key(queue))

    # No docstring: the clock read is the very first thing the task body does.
    @app.task(name=FIRST_LINE, ignore_result=True, shared=False)
    def first_line(index: int) -> None:
        t = time.monotonic()
        _redis().rpush(first_line_key(queue), f"{index} {t!r}")

    @app.task(name=SLEEP_ONE, ignore_result=True, shared=False)
    def sleep_one() -> None:
        time.sleep(1)
        _redis().incr(done_key(queue))

    return app


app = make_app(set_as_current=True)
noop = app.tasks[NOOP]
first_line = app.tasks[FIRST_LINE]
sleep_one = app.tasks[SLEEP_ONE]
