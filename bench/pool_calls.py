"""What a call through the Python executor's process pool costs, with no broker and no database.

    uv run python bench/pool_calls.py [--calls 20000] [--callers 32] [--processes 4]

`callers` coroutines share `calls` calls of `bench_tasks.noop` over a pool of `processes` warm
processes (the W1 worker's shape: 32 runs in hand over 4 processes). Printed: calls per second,
and CPU per call of the calling process and of the pool's processes (user and system time from
/proc), so that a change to the pipe between them can be measured alone.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time

import uvloop
from proc_stats import cpu_seconds

from scheduler_worker._python_child import Call, Limits
from scheduler_worker._python_pool import ProcessPool

NOOP = Call(module="bench_tasks", function="noop", arguments={}, run_id=1, task_id=1, attempt=1)


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(calls: int, callers: int, processes: int) -> None:
    pool = ProcessPool(
        size=processes, kill_grace_seconds=1.0, environment=None, limits=Limits(1024 * 1024, 8192)
    )
    pool.start()
    try:
        await asyncio.gather(*(pool.run(NOOP) for _ in range(processes * 4)))  # every process warm
        pids = pool.pids
        left = calls

        async def caller() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                await pool.run(NOOP)

        own, children, started = own_cpu_seconds(), sum(map(cpu_seconds, pids)), time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(callers)))
        elapsed = time.perf_counter() - started
        own = own_cpu_seconds() - own
        children = sum(map(cpu_seconds, pids)) - children
    finally:
        await pool.close()
    print(
        f"{calls / elapsed:,.0f} calls/s; CPU per call: caller {own / calls * 1e6:.0f} us,"
        f" pool processes {children / calls * 1e6:.0f} us"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--callers", type=int, default=32)
    parser.add_argument("--processes", type=int, default=4)
    args = parser.parse_args()
    uvloop.run(measure(args.calls, args.callers, args.processes))


if __name__ == "__main__":  # the pool's fork server imports this module as __mp_main__
    main()
