"""Shared by the PostgreSQL benchmarks: the server, throwaway schemas, a results table.

The server is `SCHEDULER_BENCH_POSTGRES_URL` (default: the local test server). Every benchmark
works in a schema (or database) of its own, dropped at the end, and never touches other data.
"""

from __future__ import annotations

import contextlib
import os
import platform
import secrets
import subprocess
from collections.abc import AsyncIterator, Sequence

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from scheduler_infrastructure import PostgresDatabase, migrate_postgres

URL = os.environ.get("SCHEDULER_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def schema_url(schema: str) -> str:
    """The server's conninfo with `schema` first on the search path."""
    return make_conninfo(URL, options=f"-c search_path={schema}")


@contextlib.asynccontextmanager
async def throwaway_schema(prefix: str) -> AsyncIterator[str]:
    """A new schema, migrated to the current version; dropped with its data afterwards."""
    name = f"bench_{prefix}_{secrets.token_hex(4)}"
    async with await psycopg.AsyncConnection.connect(URL, autocommit=True) as admin:
        await admin.execute(f"CREATE SCHEMA {name}")
    try:
        db = await PostgresDatabase.open(schema_url(name), statement_timeout=0)
        try:
            await migrate_postgres(db)
        finally:
            await db.close()
        yield name
    finally:
        async with await psycopg.AsyncConnection.connect(URL, autocommit=True) as admin:
            await admin.execute(f"DROP SCHEMA {name} CASCADE")


def server_params() -> dict[str, str]:
    """host, port, user and dbname of the server, for the command-line tools."""
    params = conninfo_to_dict(URL)
    return {key: str(params[key]) for key in ("host", "port", "user", "dbname") if params.get(key)}


def machine() -> str:
    """One line about where the figures come from."""
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in open("/proc/cpuinfo", encoding="utf-8"):  # noqa: SIM115 - read once, closed at exit
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    server = subprocess.run(
        ["psql", make_conninfo(URL), "-Atc", "SHOW server_version"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, PostgreSQL {server}"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    line = lambda values: "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)) + " |"  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)])
