"""Every PostgreSQL benchmark in one run, for docs/performance.md: pgbench's ceiling first.

    uv run python bench/pg_all.py

Runs `pg_ceiling.py`, `pg_claims.py` and `pg_due_scan.py` one after another with their
defaults (about a minute and a half on a 2-core machine), each printing its own table.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent

if __name__ == "__main__":
    for script in ("pg_ceiling.py", "pg_claims.py", "pg_due_scan.py"):
        print(f"\n$ uv run python bench/{script}\n", flush=True)
        subprocess.run([sys.executable, str(HERE / script)], check=True)
