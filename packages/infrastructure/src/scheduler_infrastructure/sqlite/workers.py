"""Workers in SQLite."""

from __future__ import annotations

from scheduler_domain import WorkerInfo
from scheduler_errors import NotFound
from scheduler_infrastructure.sqlite.columns import upsert_statement
from scheduler_infrastructure.sqlite.database import SqliteDatabase
from scheduler_infrastructure.sqlite.worker_rows import COLUMNS, params_of, worker_of

_SAVE = upsert_statement("workers", COLUMNS, "id")
# The row is replaced only while no other registrant holds it (see `WorkerRepository.register`).
_REGISTER = (
    f"{_SAVE} WHERE workers.status = 'offline' OR workers.registered_by IS NULL"
    " OR workers.registered_by = excluded.registered_by RETURNING id"
)


class SqliteWorkerRepository:
    """The `WorkerRepository` port on SQLite."""

    def __init__(self, *, db: SqliteDatabase) -> None:
        self._db = db

    async def save(self, worker: WorkerInfo) -> WorkerInfo:
        """Insert or replace the worker with `worker.id`."""
        async with self._db.transaction() as session:
            await session.execute(_SAVE, params_of(worker))
        return worker

    async def register(self, worker: WorkerInfo) -> bool:
        """See `WorkerRepository.register`: one conditional upsert."""
        async with self._db.transaction() as session:
            row = await session.fetch_one(_REGISTER, params_of(worker))
        return row is not None

    async def get(self, worker_id: str) -> WorkerInfo:
        """The worker, or `NotFound`."""
        async with self._db.reading() as session:
            row = await session.fetch_one("SELECT * FROM workers WHERE id = ?", (worker_id,))
        if row is None:
            raise NotFound("worker", worker_id)
        return worker_of(row)

    async def all(self) -> list[WorkerInfo]:
        """Every worker, by id."""
        async with self._db.reading() as session:
            rows = await session.fetch_all("SELECT * FROM workers ORDER BY id")
        return [worker_of(row) for row in rows]

    async def remove(self, worker_id: str) -> None:
        """Forget the worker; `NotFound` for an unknown id."""
        async with self._db.transaction() as session:
            if not await session.execute("DELETE FROM workers WHERE id = ?", (worker_id,)):
                raise NotFound("worker", worker_id)
