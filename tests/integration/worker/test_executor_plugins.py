"""The example plugin in examples/executor-plugin, built as a wheel and found by its entry point."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler_domain import RunStatus
from scheduler_foundation import ExecutorRegistry
from scheduler_testing import a_dispatch
from scheduler_worker import discover_executors

ROOT = Path(__file__).parents[3]
PLUGIN = ROOT / "examples" / "executor-plugin"
PLUGIN_MODULE = "scheduler_example_executor"


def uv(*arguments: str) -> None:
    executable = os.environ.get("UV") or shutil.which("uv")
    assert executable is not None, "uv builds and installs the example plugin; it is part of the toolchain"
    subprocess.run([executable, *arguments], check=True, timeout=60, cwd=ROOT, capture_output=True)


@pytest.fixture
def plugin_installed(tmp_path: Path) -> Iterator[None]:
    """The plugin built as a wheel and installed into a directory put on sys.path (a site-packages
    of its own, so the project's environment is left as it was)."""
    dist, site = tmp_path / "dist", tmp_path / "site-packages"
    uv("build", "--wheel", str(PLUGIN), "--out-dir", str(dist))
    (wheel,) = dist.glob("scheduler_example_executor-*.whl")
    uv("pip", "install", "--no-deps", "--target", str(site), str(wheel))
    sys.path.insert(0, str(site))
    try:
        yield
    finally:
        sys.path.remove(str(site))
        for name in [name for name in sys.modules if name.split(".")[0] == PLUGIN_MODULE]:
            del sys.modules[name]


@pytest.mark.timeout(60)
async def test_the_installed_example_plugin_is_found_and_runs(plugin_installed: None) -> None:
    registry = ExecutorRegistry(discover_executors(["echo"]))

    outcome = await registry.get("echo").execute(
        a_dispatch("say this", executor="echo", run_id=5, attempt=2, arguments={"loud": True})
    )

    assert outcome.status is RunStatus.SUCCEEDED
    assert outcome.result == {"command": "say this", "arguments": {"loud": True}, "run_id": 5, "attempt": 2}


def test_without_the_plugin_there_is_no_echo_executor() -> None:
    assert "echo" not in {executor.name for executor in discover_executors()}
