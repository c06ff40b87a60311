"""Fixtures for end-to-end tests: a running `scheduler standalone`, or a cluster's store and broker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.cluster import migrated_cluster
from tests.e2e.standalone import Api, Standalone, running_standalone


@pytest.fixture
def standalone(tmp_path: Path) -> Iterator[Standalone]:
    """A running standalone process; stopped (and required to stop cleanly) after the test."""
    with running_standalone(tmp_path / "data") as process:
        yield process


@pytest.fixture
def api(standalone: Standalone) -> Iterator[Api]:
    """An admin client of the running standalone process."""
    with standalone.client() as client:
        yield Api(client)


@pytest.fixture
def cluster_settings(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The settings of a cluster on a fresh migrated PostgreSQL schema and Redis namespace."""
    with migrated_cluster(tmp_path) as env:
        yield env
