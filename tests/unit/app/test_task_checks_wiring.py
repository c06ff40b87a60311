"""The API checks a task's command and arguments with the checks of the executors it names."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest
from dependency_injector import containers, providers

from scheduler_app.containers.basics import Core, Executors
from scheduler_app.containers.parts import UseCases
from scheduler_app.executors import task_checks
from scheduler_config import load_config
from scheduler_domain import Task, TaskType
from scheduler_errors import InvalidInput
from scheduler_testing import FakeTaskRepository, FakeTaskRunRepository, FakeWakeup
from scheduler_worker import ENTRY_POINT_GROUP, HttpExecutor, PythonExecutor, ShellExecutor
from scheduler_worker import plugins as plugins_module

MODULE = "tests.worker_fixtures.plugins"


class TaskStorage(containers.DeclarativeContainer):
    runs = providers.Singleton(FakeTaskRunRepository)
    tasks = providers.Singleton(FakeTaskRepository, runs)
    wakeup = providers.Singleton(FakeWakeup)
    manual_runs: providers.Object[None] = providers.Object(None)


@pytest.fixture
def no_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plugins_module, "entry_points", lambda *, group: [])


def test_the_built_in_executors_come_with_their_checks_and_plugins_with_theirs_if_any(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    declared = [EntryPoint("instance", f"{MODULE}:instance", ENTRY_POINT_GROUP)]
    monkeypatch.setattr(plugins_module, "entry_points", lambda *, group: declared)

    checks = task_checks()

    assert checks == {
        "shell": ShellExecutor.check_task,
        "http": HttpExecutor.check_task,
        "python": PythonExecutor.check_task,
        "instance": None,  # the fixture's executor offers no check: anything goes
    }


@pytest.mark.usefixtures("no_plugins")
async def test_the_apis_task_control_refuses_a_python_task_no_worker_could_call() -> None:
    core = Core(config=load_config({}))
    executors = Executors(config=core.config)
    control = UseCases(core=core, storage=TaskStorage(), executors=executors).task_control()

    with pytest.raises(InvalidInput) as caught:
        await control.create(Task(name="job", command="jobs.nightly", task_type=TaskType.PYTHON))
    created = await control.create(Task(name="job", command="jobs:nightly", task_type=TaskType.PYTHON))

    assert [error.field for error in caught.value.errors] == ["command"]
    assert created.id
