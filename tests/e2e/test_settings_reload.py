"""SIGHUP reloads a running process's settings: the live ones apply at once, the rest wait for a
restart and are named, and settings that do not load change nothing."""

from __future__ import annotations

import contextlib
import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.cluster import RoleProcess, migrated_cluster
from tests.e2e.standalone import Standalone, wait_for
from tests.worker_fixtures.http_server import serving

RELAXED = """
[api]
rate_limit_per_second = 1000
rate_limit_burst = 2000
"""
STRICT = """
[api]
rate_limit_per_second = 0.01
rate_limit_burst = 3

[dispatcher]
batch_size = 7
"""


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    path = tmp_path / "scheduler.toml"
    path.write_text(RELAXED)
    return path


@contextlib.contextmanager
def process_reading(role: str, tmp_path: Path, settings_file: Path) -> Iterator[Standalone]:
    """`scheduler standalone`, or `scheduler <role>` on PostgreSQL and Redis, reading `settings_file`."""
    with contextlib.ExitStack() as stack:
        if role == "standalone":
            process = Standalone(tmp_path / "data", env={"SCHEDULER_CONFIG": str(settings_file)})
        else:
            env = stack.enter_context(migrated_cluster(tmp_path))
            process = RoleProcess(role, tmp_path, {**env, "SCHEDULER_CONFIG": str(settings_file)})
        process.start()
        yield process
        assert process.stop() == 0, process.logs()


@pytest.fixture(params=["standalone", "api"])
def standalone(request: pytest.FixtureRequest, tmp_path: Path, settings_file: Path) -> Iterator[Standalone]:
    """A process serving the API, reading `settings_file`."""
    with process_reading(request.param, tmp_path, settings_file) as process:
        yield process


@pytest.fixture(params=["standalone", "dispatcher"])
def scheduling(request: pytest.FixtureRequest, tmp_path: Path, settings_file: Path) -> Iterator[Standalone]:
    """A process running a dispatcher, reading `settings_file`."""
    with process_reading(request.param, tmp_path, settings_file) as process:
        yield process


def reload_lines(process: Standalone) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in process.logs().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("logger") == "scheduler_app.reloading"]


def hangup(process: Standalone, seen: int) -> dict[str, Any]:
    """Send SIGHUP and return the reload's log line (the `seen + 1`th)."""
    assert process.process is not None
    process.process.send_signal(signal.SIGHUP)

    def logged() -> dict[str, Any] | None:
        lines = reload_lines(process)
        return lines[seen] if len(lines) > seen else None

    return wait_for(logged, timeout=10, what="the reload to be logged")


def statuses(process: Standalone, count: int) -> list[int]:
    with process.client() as client:
        return [client.get("/api/v1/tasks").status_code for _ in range(count)]


def test_a_reload_puts_new_rate_limits_in_force_and_names_what_waits_for_a_restart(
    standalone: Standalone, settings_file: Path
) -> None:
    assert statuses(standalone, 5) == [200] * 5
    settings_file.write_text(STRICT)

    line = hangup(standalone, 0)

    assert line["event"] == "settings reloaded; some apply only after a restart"
    assert line["applied"] == ["api.rate_limit_burst", "api.rate_limit_per_second"]
    assert line["restart_needed"] == ["dispatcher.batch_size"]
    assert statuses(standalone, 4) == [200, 200, 200, 429]


def test_settings_that_do_not_load_change_nothing_and_the_process_goes_on(
    standalone: Standalone, settings_file: Path
) -> None:
    settings_file.write_text(STRICT.replace("batch_size = 7", "batch_size = 0"))

    line = hangup(standalone, 0)

    assert line["level"] == "error"
    assert "dispatcher.batch_size" in line["event"]
    assert statuses(standalone, 5) == [200] * 5
    standalone.check_alive()


def test_a_reload_puts_new_alert_rules_in_force(scheduling: Standalone, settings_file: Path) -> None:
    with serving() as server:
        alerts = (
            "[alerts]\nevaluation_interval_seconds = 0.2\n\n"
            '[[alerts.rules]]\nname = "few-workers"\nmetric = "workers_online"\nbelow = 1000\n'
            'channels = ["hook"]\n\n'
            f'[alerts.channels.hook]\nkind = "webhook"\nurl = "{server.url("/alerts")}"\n'
        )
        settings_file.write_text(RELAXED + alerts)

        line = hangup(scheduling, 0)
        [notice] = wait_for(
            lambda: [json.loads(request.body) for request in list(server.received)],
            timeout=10,
            what="the new rule's notification",
        )

    assert line["event"] == "settings reloaded"
    assert "alerts.rules" in line["applied"]
    assert line["restart_needed"] == []
    assert (notice["rule"], notice["state"]) == ("few-workers", "firing")
