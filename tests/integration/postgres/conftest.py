"""Fixtures of the PostgreSQL integration tests: a fresh schema per test (see server.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from scheduler_infrastructure import PostgresDatabase
from tests.integration.postgres.server import fresh_schema, migrated_database


@pytest.fixture
async def schema() -> AsyncIterator[str]:
    """The name of a new, empty schema on the test server; dropped after the test."""
    async with fresh_schema() as name:
        yield name


@pytest.fixture
async def db() -> AsyncIterator[PostgresDatabase]:
    """A database on a fresh schema at the current version."""
    async with migrated_database(max_size=4) as database:
        yield database
