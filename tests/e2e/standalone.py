"""Start `scheduler standalone` as a real subprocess and talk to it over HTTP."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx

ADMIN_KEY = "e2e-admin-key-0123456789abcdef"
T = TypeVar("T")

#: Numbers the processes a test run starts, so that no two share a log file.
_PROCESS_NUMBERS = itertools.count(1)


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.05) -> T:
    """Poll until `predicate` returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


class Standalone:
    """One `scheduler standalone` process on a free port with its own data directory."""

    def __init__(
        self,
        data_dir: Path,
        *,
        admin_key: str | None = ADMIN_KEY,
        env: dict[str, str] | None = None,
        label: str = "standalone",
    ):
        self.data_dir = data_dir
        self.admin_key = admin_key
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_env = env or {}
        self.process: subprocess.Popen[str] | None = None
        # Not named by the port alone: a process that does not listen (a dispatcher, a worker)
        # never takes its port, so two of them may draw the same one.
        name = f"{label}-{next(_PROCESS_NUMBERS)}-{self.port}"
        self.log_path = data_dir.parent / f"{name}.log"
        self.out_path = data_dir.parent / f"{name}.out"

    def start(self) -> Standalone:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDULER_")}
        env.update(
            {
                "SCHEDULER_WORKER__KILL_GRACE_SECONDS": "1",
                "SCHEDULER_WORKER__DRAIN_GRACE_SECONDS": "1",
                "SCHEDULER_DISPATCHER__SCAN_INTERVAL_SECONDS": "0.2",
                "SCHEDULER_DISPATCHER__TIMEOUT_GRACE_SECONDS": "5",
                **self.extra_env,
            }
        )
        if self.admin_key:
            env["SCHEDULER_ADMIN_API_KEY"] = self.admin_key
        self.process = subprocess.Popen(
            self.command(),
            env=env,
            stdout=self.out_path.open("w"),
            stderr=self.log_path.open("w"),
            text=True,
        )
        wait_for(self.ready, timeout=30, what=f"{self.command()[3]} on {self.url} to be ready")
        return self

    def command(self) -> list[str]:
        """The command line of the process."""
        base = [sys.executable, "-m", "scheduler_app", "standalone", "--port", str(self.port)]
        return [*base, "--data-dir", str(self.data_dir)]

    def ready(self) -> bool:
        """True once the process serves (it must not have exited)."""
        return self._healthy()

    def _healthy(self) -> bool:
        self.check_alive()
        try:
            return httpx.get(f"{self.url}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def check_alive(self) -> None:
        """Fail the test, with the logs, when the process has exited."""
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"{self.command()[3]} exited with {self.process.returncode}:\n{self.logs()}")

    def stop(self, *, sig: signal.Signals = signal.SIGTERM, timeout: float = 15) -> int:
        """Signal the process and wait for it to exit; returns its exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"standalone did not stop within {timeout}s:\n{self.logs()}") from None
        return self.process.returncode

    def logs(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def output(self) -> str:
        return self.out_path.read_text() if self.out_path.exists() else ""

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"X-API-Key": key or self.admin_key or ""}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)


@contextlib.contextmanager
def running_standalone(data_dir: Path, env: Mapping[str, str] | None = None) -> Iterator[Standalone]:
    """A started standalone process (with `env` added to its environment), required to stop
    cleanly on SIGTERM afterwards."""
    process = Standalone(data_dir, env=dict(env or {})).start()
    yield process
    code = process.stop()
    assert code == 0, f"standalone exited with {code} on SIGTERM:\n{process.logs()}"


class Api:
    """Small helpers over an authenticated client."""

    def __init__(self, client: httpx.Client) -> None:
        self.http = client

    def create_task(self, **fields: Any) -> dict[str, Any]:
        response = self.http.post("/api/v1/tasks", json=fields)
        assert response.status_code == 201, response.text
        return response.json()

    def trigger(self, task_id: int, **body: Any) -> dict[str, Any]:
        response = self.http.post(f"/api/v1/tasks/{task_id}/trigger", json=body or None)
        assert response.status_code == 202, response.text
        return response.json()

    def run(self, run_id: int) -> dict[str, Any]:
        response = self.http.get(f"/api/v1/runs/{run_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def runs_of(self, task_id: int) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 500}
            if cursor:
                params["cursor"] = cursor
            response = self.http.get(f"/api/v1/tasks/{task_id}/runs", params=params)
            assert response.status_code == 200, response.text
            page = response.json()
            items += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return items

    def run_each(self, commands: Sequence[str], *, timeout: float = 20) -> list[dict[str, Any]]:
        """One task per distinct command, one run per entry of `commands`, every run waited for
        until it ends (as it ended, in the order of `commands`)."""
        tasks = {
            command: self.create_task(name=f"command-{number}", command=command)
            for number, command in enumerate(dict.fromkeys(commands))
        }
        runs = [self.trigger(tasks[command]["id"]) for command in commands]
        return [self.wait_run(run["id"], {"succeeded", "failed"}, timeout=timeout) for run in runs]

    def wait_run(self, run_id: int, statuses: set[str], *, timeout: float = 20) -> dict[str, Any]:
        return wait_for(
            lambda: (run := self.run(run_id))["status"] in statuses and run,
            timeout=timeout,
            what=f"run {run_id} to reach {sorted(statuses)}",
        )
