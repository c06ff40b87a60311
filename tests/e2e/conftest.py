"""Fixtures that start `scheduler standalone` for end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.standalone import Api, Standalone


@pytest.fixture
def standalone(tmp_path: Path) -> Iterator[Standalone]:
    """A running standalone process; stopped (and required to stop cleanly) after the test."""
    process = Standalone(tmp_path / "data").start()
    yield process
    code = process.stop()
    assert code == 0, f"standalone exited with {code} on SIGTERM:\n{process.logs()}"


@pytest.fixture
def api(standalone: Standalone) -> Iterator[Api]:
    """An admin client of the running standalone process."""
    with standalone.client() as client:
        yield Api(client)
