"""What `scheduler standalone` writes to its data directory is readable by its owner only."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.standalone import Api, running_standalone

pytestmark = pytest.mark.e2e


@pytest.fixture
def lax_umask() -> Iterator[None]:
    """The common default umask (022), which leaves new files readable by everyone."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def modes_in(directory: Path) -> dict[str, int]:
    return {path.name: stat.S_IMODE(path.stat().st_mode) for path in directory.iterdir()}


@pytest.mark.usefixtures("lax_umask")
def test_the_data_directory_and_its_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with running_standalone(data_dir) as standalone, standalone.client() as client:
        api = Api(client)
        task = api.create_task(name="secret", command="true", arguments={"env": {"TOKEN": "s3cret"}})
        api.wait_run(api.trigger(task["id"])["id"], {"succeeded"})
        written = modes_in(data_dir)

    assert set(written) >= {"scheduler.db", "scheduler.db-wal", "standalone.lock"}
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert {name: oct(mode) for name, mode in written.items() if mode & 0o077} == {}
