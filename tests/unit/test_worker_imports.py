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


def test_the_redis_client_loads_no_opentelemetry_metrics_sdk_in_a_scheduler_process() -> None:
    probe = (
        "import sys\n"
        "from scheduler_app.entry import keep_unused_modules_out\n"
        "keep_unused_modules_out()\n"
        "import scheduler_infrastructure.redis.queue\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"  # the traces still work
        "loaded = [n for n in sys.modules if n.startswith('opentelemetry.sdk.metrics') and sys.modules[n]]\n"
        "print(sorted(loaded))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
