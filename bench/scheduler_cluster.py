"""A throwaway `scheduler` cluster for the benchmarks: api, dispatcher and worker processes.

Every cluster works in a PostgreSQL schema and a Redis namespace of its own, both removed when
it stops. The processes are the real `scheduler` commands, configured through the environment
as an operator would; nothing is mocked.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis
from pg_common import URL, schema_url
from proc_stats import wait_until

REDIS_URL = os.environ.get("SCHEDULER_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
BENCH_DIR = Path(__file__).resolve().parent
STARTUP_SECONDS = 60.0


class Cluster:
    """`scheduler api` and `dispatchers` x `scheduler dispatcher` on a fresh schema and namespace;
    workers are started on demand with `start_worker`."""

    def __init__(self, *, dispatchers: int = 1, settings: dict[str, str] | None = None) -> None:
        self.schema = f"bench_w_{secrets.token_hex(4)}"
        self.namespace = f"bench-{secrets.token_hex(4)}."
        self.database_url = schema_url(self.schema)
        self._dispatchers = dispatchers
        self._workdir = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
        self._port = _free_port()
        self.api_url = f"http://127.0.0.1:{self._port}"
        self.env = _clean_environment() | {
            "SCHEDULER_DATABASE__URL": self.database_url,
            "SCHEDULER_QUEUE__URL": REDIS_URL,
            "SCHEDULER_QUEUE__NAMESPACE": self.namespace,
            "SCHEDULER_LOGGING__LEVEL": "WARNING",
            "PYTHONPATH": str(BENCH_DIR),
            **(settings or {}),
        }
        self._processes: list[subprocess.Popen[bytes]] = []
        self.admin_key = ""
        self.worker_key = ""

    def __enter__(self) -> Cluster:
        with psycopg.connect(URL, autocommit=True) as admin:
            admin.execute(f"CREATE SCHEMA {self.schema}")
        try:
            self._command("migrate")
            self.admin_key = self._command("apikey", "create", "--name", "bench", "--role", "admin")
            self.worker_key = self._command("apikey", "create", "--name", "bench-w", "--role", "worker")
            api = self._start("api", "--port", str(self._port))
            wait_until(lambda: _healthy(self.api_url, api), STARTUP_SECONDS, 0.05, "the api to answer")
            for _ in range(self._dispatchers):
                self._start("dispatcher")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        for process in reversed(self._processes):
            stop(process)
        self._processes.clear()
        with psycopg.connect(URL, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
        client = redis.Redis.from_url(REDIS_URL)
        with client:
            keys = list(client.scan_iter(match=f"{self.namespace}*", count=1000))
            if keys:
                client.delete(*keys)

    def start_worker(
        self, *, worker_id: str, concurrency: int, python_processes: int = 0
    ) -> subprocess.Popen[bytes]:
        """A `scheduler worker` process serving Python tasks, once it has registered
        (`python_processes` 0: as many as `concurrency`)."""
        process = self._start(
            "worker",
            "--worker-id",
            worker_id,
            "--api-url",
            self.api_url,
            extra={
                "SCHEDULER_WORKER__API_KEY": self.worker_key,
                "SCHEDULER_WORKER__CONCURRENCY": str(concurrency),
                "SCHEDULER_WORKER__PYTHON_PROCESSES": str(python_processes),
                "SCHEDULER_WORKER__TASK_TYPES": "python",
            },
        )
        wait_until(lambda: self._registered(worker_id, process), STARTUP_SECONDS, 0.02, "the worker")
        return process

    def processes(self, role: str) -> list[subprocess.Popen[bytes]]:
        """The cluster's running processes of `role` (`api`, `dispatcher`, `worker`)."""
        return [process for process in self._processes if list(process.args)[3] == role]  # type: ignore[arg-type]

    def stop_process(self, process: subprocess.Popen[bytes]) -> None:
        """Stop one of the cluster's processes now."""
        stop(process)
        self._processes.remove(process)

    def client(self) -> ApiClient:
        """One keep-alive HTTP client on the API, as the admin."""
        return ApiClient(self._port, self.admin_key)

    def sql(self, query: str, *params: object) -> list[tuple[object, ...]]:
        """Rows of `query` on the cluster's schema."""
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            return conn.execute(query, params).fetchall()  # type: ignore[arg-type]

    def _registered(self, worker_id: str, process: subprocess.Popen[bytes]) -> bool:
        _check_alive(process)
        return bool(self.sql("SELECT 1 FROM workers WHERE id = %s AND status = 'online'", worker_id))

    def _command(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "scheduler_app", *args],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self._workdir,
            timeout=STARTUP_SECONDS,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"scheduler {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def _start(self, *args: str, extra: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "scheduler_app", *args],
            env=self.env | (extra or {}),
            cwd=self._workdir,
        )
        self._processes.append(process)
        return process


class ApiClient:
    """A keep-alive JSON client of `/api/v1` on one connection: the standard library's
    `http.client`, which costs the benchmark's own process far less CPU per request than httpx."""

    #: Idle longer than this, the connection is opened anew: the server closes idle ones (5 s).
    IDLE_SECONDS = 2.0

    def __init__(self, port: int, api_key: str) -> None:
        self._connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self._headers = {"X-API-Key": api_key, "Content-Type": "application/json"}
        self._used = time.monotonic()

    def post(self, path: str, body: dict[str, object] | None = None) -> dict[str, Any]:
        """POST `body` as JSON; the JSON answer, or `RuntimeError` with the problem details."""
        return self._request("POST", path, b"" if body is None else json.dumps(body).encode())

    def get(self, path: str) -> dict[str, Any]:
        """GET `path`; the JSON answer, or `RuntimeError` with the problem details."""
        return self._request("GET", path, None)

    def _request(self, method: str, path: str, payload: bytes | None) -> dict[str, Any]:
        if time.monotonic() - self._used > self.IDLE_SECONDS:
            self._connection.close()
        self._used = time.monotonic()
        self._connection.request(method, f"/api/v1{path}", body=payload, headers=self._headers)
        response = self._connection.getresponse()
        answer = response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path} answered {response.status}: {answer.decode()}")
        return json.loads(answer)  # type: ignore[no-any-return]

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def stop(process: subprocess.Popen[bytes], grace: float = 20.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(grace)


def _healthy(url: str, process: subprocess.Popen[bytes]) -> bool:
    _check_alive(process)
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(f"{url}/health", timeout=1).status_code == 200
    return False


def _check_alive(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        raise RuntimeError(f"{process.args} exited with {process.returncode}")


def _clean_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SCHEDULER_")}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
