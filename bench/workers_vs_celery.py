"""Side by side with Celery (issue 6): the same three workloads on both, in one run.

    uv run --group bench python bench/workers_vs_celery.py [--quick] [--json results.json]

Celery 5 runs with the Redis broker and `--pool=prefork --concurrency=2` (`celery_side.py`); the
scheduler runs as `scheduler api` + `scheduler dispatcher` + `scheduler worker` on PostgreSQL and
Redis Streams, every run recorded in PostgreSQL (`scheduler_side.py`). Each module's docstring
defines its figures exactly. The workloads alternate between the two systems, so both meet the
same machine. `--quick` runs a tenth of W1 and W2, to try the harness.

Prints one table: each figure, its target, both systems, and the scheduler's figure divided by
Celery's (above 1 means more, whether more is better or not).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path

import celery
import celery_side
import scheduler_side
from pg_common import machine

#: (workload, key, what it is, target)
FIGURES = [
    ("w1", "enqueue_per_s", "W1 enqueue, tasks/s", ">= 2,000"),
    ("w1", "drain_per_s", "W1 drain, runs/s", ">= 4,000"),
    ("w1", "peak_rss_main_mb", "W1 worker peak RSS, MB (main process)", "<= 60"),
    ("w1", "peak_rss_tree_mb", "W1 worker peak RSS, MB (with its pool, shared pages once each)", ""),
    ("w1", "peak_pss_tree_mb", "W1 worker peak PSS, MB (with its pool, shared pages divided)", ""),
    ("w1", "worker_cpu_seconds", "W1 worker CPU, s (with its pool)", ""),
    ("w2", "p50_ms", "W2 submit -> first line p50, ms", "<= 3"),
    ("w2", "p99_ms", "W2 submit -> first line p99, ms", "<= 7"),
    ("w2", "max_ms", "W2 submit -> first line max, ms", ""),
    ("w3", "total_s", "W3 200 x sleep(1) at concurrency 20, s", "<= 10.2"),
]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="W1 and W2 at a tenth of their size")
    parser.add_argument("--w1-concurrency", type=int, default=scheduler_side.W1_CONCURRENCY)
    parser.add_argument("--w1-python-processes", type=int, default=scheduler_side.W1_PYTHON_PROCESSES)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    workloads: dict[str, tuple[Callable[[], dict[str, float]], Callable[[], dict[str, float]]]] = {
        "w1": (
            lambda: scheduler_side.run_w1(20_000 // scale, args.w1_concurrency, args.w1_python_processes),
            lambda: celery_side.run_w1(20_000 // scale),
        ),
        "w2": (lambda: scheduler_side.run_w2(500 // scale), lambda: celery_side.run_w2(500 // scale)),
        "w3": (scheduler_side.run_w3, celery_side.run_w3),
    }
    results: dict[str, dict[str, dict[str, float]]] = {"scheduler": {}, "celery": {}}
    for name, (ours, theirs) in workloads.items():
        for system, run in (("celery", theirs), ("scheduler", ours)):
            started = time.monotonic()
            results[system][name] = run()
            print(
                f"{name} {system}: {results[system][name]} ({time.monotonic() - started:.0f} s)", flush=True
            )
    print()
    print(f"{machine()}; Celery {celery.__version__}; {platform.platform()}")
    print()
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def table(results: dict[str, dict[str, dict[str, float]]]) -> str:
    lines = [
        "| Figure | Target | Scheduler | Celery | Scheduler / Celery |",
        "|---|---|---:|---:|---:|",
    ]
    for workload, key, label, target in FIGURES:
        ours = results["scheduler"][workload][key]
        theirs = results["celery"][workload][key]
        ratio = ours / theirs if theirs else float("nan")
        lines.append(f"| {label} | {target} | {ours:,.1f} | {theirs:,.1f} | {ratio:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
