"""The five-minute tour in README.md works exactly as written (only the port differs)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.standalone import Standalone, wait_for

pytestmark = pytest.mark.e2e

README = Path(__file__).parents[2] / "README.md"


def tour_commands() -> tuple[str, list[str]]:
    """The admin key the tour exports, and its curl commands in order."""
    tour = README.read_text().split("## A five-minute tour", 1)[1].split("\n## ", 1)[0]
    key = re.search(r"export SCHEDULER_ADMIN_API_KEY=(\S+)", tour)
    assert key, "the tour no longer exports SCHEDULER_ADMIN_API_KEY"
    commands: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", tour, flags=re.S):
        joined = block.replace("\\\n", " ")
        commands += [line.strip() for line in joined.splitlines() if line.strip().startswith("curl ")]
    return key.group(1), commands


def run_curl(command: str, standalone: Standalone, key: str) -> Any:
    return json.loads(run_command(command, standalone, key))


def run_command(command: str, standalone: Standalone, key: str) -> str:
    local = command.replace("127.0.0.1:8080", f"127.0.0.1:{standalone.port}")
    env = {**os.environ, "SCHEDULER_ADMIN_API_KEY": key}
    done = subprocess.run(
        ["bash", "-c", local], capture_output=True, text=True, env=env, timeout=10, check=True
    )
    return done.stdout


def test_the_readme_tour(tmp_path: Path) -> None:
    key, commands = tour_commands()
    assert len(commands) == 7, commands
    create, trigger, read_run, schedule, list_runs, pause, metrics = commands
    standalone = Standalone(tmp_path / "data", admin_key=key).start()
    try:
        task = run_curl(create, standalone, key)
        assert task["id"] == 1
        run = run_curl(trigger, standalone, key)
        assert (run["id"], run["status"]) == (1, "pending")
        done = wait_for(
            lambda: (r := run_curl(read_run, standalone, key))["status"] == "succeeded" and r,
            timeout=15,
            what="the tour's run to succeed",
        )
        assert done["result"]["stdout"] == "hello from run 1\n"
        scheduled = run_curl(schedule, standalone, key)
        assert scheduled["schedule"] == "*/10 * * * * *"
        assert scheduled["next_run_at"] is not None
        assert isinstance(run_curl(list_runs, standalone, key)["items"], list)
        assert run_curl(pause, standalone, key)["status"] == "paused"
        ended = run_command(metrics, standalone, key).splitlines()
        assert ended, "the tour's metrics command printed nothing"
        assert ended[0].startswith('scheduler_runs_ended_total{status="succeeded",task_type="shell"} ')
    finally:
        assert standalone.stop() == 0
