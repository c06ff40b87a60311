"""Which stores read tasks in the same statement: the dispatcher's claim, a manual run's insert."""

from __future__ import annotations

from scheduler_app.containers.storage import PostgresStorage, SqliteStorage


def test_postgresql_claims_with_its_run_repository_and_sqlite_claims_then_reads_tasks() -> None:
    assert PostgresStorage.pending_claims is PostgresStorage.runs
    assert SqliteStorage.pending_claims() is None


def test_postgresql_stores_a_manual_run_with_its_task_in_one_step_and_sqlite_reads_the_task_first() -> None:
    assert PostgresStorage.manual_runs is PostgresStorage.runs
    assert SqliteStorage.manual_runs() is None
