"""The ceiling: `pgbench -S` (select-only, one primary-key lookup per transaction) on the same server.

Initialises a throwaway database (`pgbench -i -s 10`, 1,000,000 accounts), runs
`pgbench -S -c 2 -j 2 -T 10`, prints its transactions per second, and drops the database.
Then, for the writes, `pgbench -N` (simple-update: three writes and one commit per
transaction): every state change of a run is a commit, and a commit waits for the WAL flush.

    uv run python bench/pg_ceiling.py [--seconds 10] [--clients 2]
"""

from __future__ import annotations

import argparse
import re
import secrets
import subprocess

from pg_common import machine, server_params, table

MODES = (("-S", "select-only"), ("-N", "simple-update"))


def pgbench(seconds: int, clients: int, scale: int = 10) -> tuple[list[tuple[str, float]], list[str]]:
    """tps of each of `MODES` in a database made for them, and the commands that ran."""
    params = server_params()
    connection = [
        "-h",
        params.get("host", "127.0.0.1"),
        "-p",
        params.get("port", "5432"),
        "-U",
        params.get("user", "postgres"),
    ]
    database = f"bench_pgbench_{secrets.token_hex(4)}"
    setup = [
        ["createdb", *connection, database],
        ["pgbench", *connection, "-i", "-q", "-s", str(scale), database],
    ]
    runs = [
        ["pgbench", *connection, mode, "-c", str(clients), "-j", str(clients), "-T", str(seconds), database]
        for mode, _ in MODES
    ]
    results = []
    try:
        for command in setup:
            subprocess.run(command, check=True, capture_output=True)
        for (mode, what), command in zip(MODES, runs, strict=True):
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", output)
            if match is None:
                raise RuntimeError(f"no tps in the output of pgbench:\n{output}")
            results.append((f"pgbench {mode} ({what})", float(match.group(1))))
    finally:
        subprocess.run(["dropdb", *connection, "--if-exists", database], check=True, capture_output=True)
    return results, [" ".join(command) for command in (*setup, *runs)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--clients", type=int, default=2)
    args = parser.parse_args()
    results, ran = pgbench(args.seconds, args.clients)
    rows = [[name, args.clients, args.seconds, f"{tps:,.0f}"] for name, tps in results]
    print(f"# pgbench on {machine()}\n")
    print(table(["benchmark", "clients", "seconds", "tps"], rows))
    print("\n" + "\n".join(f"    {command}" for command in ran))


if __name__ == "__main__":
    main()
