"""`scheduler worker` loads no API and no database code: its process stays small."""

from __future__ import annotations

import subprocess
import sys

#: What the worker's process imports to start: the CLI, its container, its resources, executors.
WORKER_MODULES = (
    "scheduler_app.cli",
    "scheduler_app.worker_process",
    "scheduler_app.containers.worker",
    "scheduler_app.resources",
    "scheduler_app.executors",
)
#: Libraries only the API, the database adapters, the other broker, encrypted settings, or the
#: processes that serve metrics or trace, need.
NOT_LOADED = (
    "litestar",
    "uvicorn",
    "psycopg",
    "aiosqlite",
    "aio_pika",
    "cryptography.fernet",
    "prometheus_client",
    "opentelemetry",
)


def test_a_worker_process_imports_no_api_no_database_driver_no_cipher_no_metrics_no_tracing() -> None:
    probe = (
        "import importlib, sys\n"
        f"for name in {WORKER_MODULES!r}: importlib.import_module(name)\n"
        f"print(sorted(n for n in {NOT_LOADED!r} if n in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
