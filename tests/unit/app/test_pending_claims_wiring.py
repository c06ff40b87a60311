"""Which stores hand the dispatcher a claim that reads the tasks too (one statement per batch)."""

from __future__ import annotations

from scheduler_app.containers.storage import PostgresStorage, SqliteStorage


def test_postgresql_claims_with_its_run_repository_and_sqlite_claims_then_reads_tasks() -> None:
    assert PostgresStorage.pending_claims is PostgresStorage.runs
    assert SqliteStorage.pending_claims() is None
