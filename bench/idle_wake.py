"""What a pause costs the next durable write: the same commit, back to back and after idling.

    uv run python bench/idle_wake.py [--commits 300]

One connection inserts a row and commits, `commits` times for each pause (0, 1, 5 and 20 ms
between commits; 20 ms is W2's pace of 50 triggers/s), into a table of a throwaway schema.
Printed: the commit's p50 and p90 in ms per pause. On these VMs a CPU with nothing to run halts
(the guest does not poll before halting: `haltpoll.guest_halt_poll_ns=0` on the kernel's command
line), and waking a halted CPU costs the host's round trip. Every process that W2's path crosses
sleeps between runs, so each hop pays it.
"""

from __future__ import annotations

import argparse
import secrets
import time

import psycopg
from pg_common import URL
from proc_stats import percentile

PAUSES_MS = (0, 1, 5, 20)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--commits", type=int, default=300)
    args = parser.parse_args()
    schema = f"bench_idle_{secrets.token_hex(4)}"
    with psycopg.connect(URL, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
        try:
            connection.execute(f"CREATE TABLE {schema}.commits (v int)")
            for pause in PAUSES_MS:
                took = []
                for value in range(args.commits):
                    time.sleep(pause / 1000)
                    started = time.perf_counter()
                    connection.execute(f"INSERT INTO {schema}.commits VALUES (%s)", (value,))
                    took.append((time.perf_counter() - started) * 1000)
                p50, p90 = percentile(took, 50), percentile(took, 90)
                print(f"pause {pause:2d} ms: commit p50 {p50:.2f} ms, p90 {p90:.2f} ms")
        finally:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
