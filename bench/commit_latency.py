"""How long one commit takes on this server, one at a time: the floor under every durable write.

    uv run python bench/commit_latency.py [--commits 3000]

One connection inserts a row and commits, `commits` times, into a table of a throwaway schema
(an ordinary table: its commits wait for the WAL flush, as every run's do). Printed: the commit's p50, p99 and
max in ms, and how many took longer than 10, 50 and 100 ms. A write that waits for the disk
waits for its slowest flushes too: these are the stalls in the tail of W2's latency.
"""

from __future__ import annotations

import argparse
import secrets
import time

import psycopg
from pg_common import URL
from proc_stats import percentile


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--commits", type=int, default=3000)
    args = parser.parse_args()
    took: list[float] = []
    schema = f"bench_commits_{secrets.token_hex(4)}"
    with psycopg.connect(URL, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
        try:
            connection.execute(f"CREATE TABLE {schema}.commits (v int)")
            for value in range(args.commits):
                started = time.perf_counter()
                connection.execute(f"INSERT INTO {schema}.commits VALUES (%s)", (value,))
                took.append((time.perf_counter() - started) * 1000)
        finally:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")
    slow = {limit: sum(ms > limit for ms in took) for limit in (10, 50, 100)}
    print(
        f"{args.commits} commits: p50 {percentile(took, 50):.2f} ms, p99 {percentile(took, 99):.2f} ms, "
        f"max {max(took):.1f} ms; over 10 ms: {slow[10]}, over 50 ms: {slow[50]}, over 100 ms: {slow[100]}"
    )


if __name__ == "__main__":
    main()
