"""Workers in PostgreSQL."""

from __future__ import annotations

from scheduler_domain import WorkerInfo
from scheduler_errors import NotFound
from scheduler_infrastructure.postgres.columns import upsert_statement
from scheduler_infrastructure.postgres.database import PostgresDatabase
from scheduler_infrastructure.postgres.worker_rows import COLUMNS, params_of, worker_of

_SAVE = upsert_statement("workers", COLUMNS, "id")
# The row is replaced only while no other registrant holds it (see `WorkerRepository.register`).
_REGISTER = (
    f"{_SAVE} WHERE workers.status = 'offline' OR workers.registered_by IS NULL"
    " OR workers.registered_by = excluded.registered_by RETURNING id"
)


class PostgresWorkerRepository:
    """The `WorkerRepository` port on PostgreSQL."""

    def __init__(self, *, db: PostgresDatabase) -> None:
        self._db = db

    async def save(self, worker: WorkerInfo) -> WorkerInfo:
        """Insert or replace the worker with `worker.id`."""
        params = params_of(worker)
        await self._db.run(lambda session: session.execute(_SAVE, params), transaction=False)
        return worker

    async def register(self, worker: WorkerInfo) -> bool:
        """See `WorkerRepository.register`: one conditional upsert."""
        params = params_of(worker)
        row = await self._db.run(lambda session: session.fetch_one(_REGISTER, params), transaction=False)
        return row is not None

    async def get(self, worker_id: str) -> WorkerInfo:
        """The worker, or `NotFound`."""
        async with self._db.session() as session:
            row = await session.fetch_one("SELECT * FROM workers WHERE id = %(id)s", {"id": worker_id})
        if row is None:
            raise NotFound("worker", worker_id)
        return worker_of(row)

    async def all(self) -> list[WorkerInfo]:
        """Every worker, by id (byte order: the column's collation is "C")."""
        async with self._db.session() as session:
            rows = await session.fetch_all("SELECT * FROM workers ORDER BY id")
        return [worker_of(row) for row in rows]

    async def remove(self, worker_id: str) -> None:
        """Forget the worker; `NotFound` for an unknown id."""
        removed = await self._db.run(
            lambda session: session.execute("DELETE FROM workers WHERE id = %(id)s", {"id": worker_id}),
            transaction=False,
        )
        if not removed:
            raise NotFound("worker", worker_id)
