"""A fresh app per test over the real use cases, wired to the in-memory fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from scheduler_api import create_app
from scheduler_api.outside_tokens import OutsideTokens
from scheduler_api.tokens import TokenAuthority
from scheduler_application import (
    AccessControl,
    AuditTrail,
    RunControl,
    SystemOverview,
    TaskControl,
    WorkerRegistry,
)
from scheduler_domain import Role, RunStatus, TaskRun
from scheduler_observability.metrics import Metrics
from scheduler_observability.run_metrics import MeteredRunRepository
from scheduler_testing import (
    FakeApiKeyRepository,
    FakeAuditLogRepository,
    FakeClock,
    FakeManualRunStore,
    FakeMessageQueue,
    FakeTaskRepository,
    FakeTaskRunRepository,
    FakeWakeup,
    FakeWorkerRepository,
)
from scheduler_worker import ShellExecutor

MAX_BODY_BYTES = 64 * 1024
TOKEN_SECRET = "test-token-secret-0123456789abcdef"
TOKEN_TTL = 600


@dataclass
class World:
    """The fakes behind one app, for tests to arrange and inspect."""

    clock: FakeClock = field(default_factory=FakeClock)
    wakeup: FakeWakeup = field(default_factory=FakeWakeup)
    queue: FakeMessageQueue = field(default_factory=FakeMessageQueue)
    run_rows: FakeTaskRunRepository = field(default_factory=FakeTaskRunRepository)
    worker_rows: FakeWorkerRepository = field(default_factory=FakeWorkerRepository)
    key_rows: FakeApiKeyRepository = field(default_factory=FakeApiKeyRepository)
    audit_rows: FakeAuditLogRepository = field(default_factory=FakeAuditLogRepository)
    metrics: Metrics = field(default_factory=Metrics)
    metrics_public: bool = True
    database_up: bool = True
    outside_tokens: OutsideTokens | None = None
    #: Manual runs stored in one step with their audit entry, as on PostgreSQL (`manual_runs`).
    one_step_triggers: bool = False

    def __post_init__(self) -> None:
        self.task_rows = FakeTaskRepository(self.run_rows)
        self.manual_runs = FakeManualRunStore(
            tasks=self.task_rows, runs=self.run_rows, audit_log=self.audit_rows
        )
        self.runs = MeteredRunRepository(self.run_rows, self.metrics)
        self.access = AccessControl(keys=self.key_rows, clock=self.clock)
        self.audit = AuditTrail(log=self.audit_rows, clock=self.clock)
        self.tokens = TokenAuthority(
            secret=TOKEN_SECRET,
            ttl_seconds=TOKEN_TTL,
            audience="scheduler",
            issuer="scheduler",
            clock=self.clock,
        )

    async def readiness(self) -> Mapping[str, bool]:
        return {"database": self.database_up, "queue": await self.queue.ping()}

    def app(self, *, debug: bool = False) -> Litestar:
        return create_app(
            tasks=TaskControl(
                tasks=self.task_rows,
                runs=self.runs,
                clock=self.clock,
                wakeup=self.wakeup,
                executors={"shell": ShellExecutor.check_task},
                manual_runs=self.manual_runs if self.one_step_triggers else None,
            ),
            runs=RunControl(runs=self.runs, queue=self.queue, clock=self.clock),
            access=self.access,
            workers=WorkerRegistry(workers=self.worker_rows, clock=self.clock),
            audit=self.audit,
            tokens=self.tokens,
            readiness=self.readiness,
            metrics=self.metrics,
            overview=SystemOverview(tasks=self.task_rows, runs=self.runs, workers=self.worker_rows),
            metrics_public=self.metrics_public,
            max_body_bytes=MAX_BODY_BYTES,
            debug=debug,
            outside_tokens=self.outside_tokens,
        )

    async def key(self, role: Role) -> str:
        """The secret of a new key with `role`."""
        return (await self.access.issue(f"{role}-key", role)).secret

    def start(self, run_id: int, worker_id: str) -> TaskRun:
        """Move a pending run to running on `worker_id`, as the dispatcher and a worker would."""
        now = self.clock.now()
        run = self.run_rows.rows[run_id].queued(now).started(worker_id, now)
        self.run_rows.rows[run_id] = run
        return run

    def set_status(self, run_id: int, status: RunStatus) -> None:
        """Force a run into `status` (for listing filters)."""
        self.run_rows.rows[run_id] = msgspec.structs.replace(self.run_rows.rows[run_id], status=status)


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def app(world: World) -> Litestar:
    return world.app()


@pytest.fixture
async def anonymous(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app without credentials."""
    async with AsyncTestClient(app=app) as client:
        yield client


@pytest.fixture
async def admin(world: World, app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the same app sending an admin key on every request."""
    async with AsyncTestClient(app=app) as client:
        client.headers["X-API-Key"] = await world.key(Role.ADMIN)
        yield client


async def create_task(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    """Create a task (name and command defaulted) and return its JSON."""
    body = {"name": "echo", "command": "echo hi", **fields}
    response = await client.post("/api/v1/tasks", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """Check `response` is an RFC 9457 problem with `status`, free of internals; return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = dict(response.json())
    assert body["status"] == status
    assert body["type"]
    assert body["title"]
    assert body["detail"]
    assert "Traceback" not in response.text
    assert 'File "' not in response.text
    return body


def fields_of(problem: Mapping[str, Any]) -> list[str]:
    """The offending fields a validation problem names."""
    return [error["field"] for error in problem.get("errors", [])]
