"""What entry points of the `scheduler.executors` group may name, good and bad."""

from __future__ import annotations

from scheduler_domain import RunDispatch, RunOutcome, RunStatus


class NamedExecutor:
    """Succeeds at once; its name is given when it is built."""

    def __init__(self, name: str = "named") -> None:
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    async def execute(self, job: RunDispatch) -> RunOutcome:
        return RunOutcome(status=RunStatus.SUCCEEDED, result={"by": self._name})


instance = NamedExecutor("instance")


def build_factory() -> NamedExecutor:
    return NamedExecutor("factory")


def broken_factory() -> NamedExecutor:
    raise RuntimeError("no licence key")


not_an_executor = object()


class _Nameless:
    async def execute(self, job: RunDispatch) -> RunOutcome:
        return RunOutcome(status=RunStatus.SUCCEEDED)


nameless = _Nameless()
