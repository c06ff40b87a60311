"""Executors that installed distributions provide through the `scheduler.executors` entry points."""

from __future__ import annotations

from collections.abc import Collection
from importlib.metadata import EntryPoint, entry_points
from typing import cast

from scheduler_errors import InvalidInput
from scheduler_foundation import TaskExecutor

#: The entry-point group a plugin declares its executors in, e.g. in its pyproject.toml:
#: `[project.entry-points."scheduler.executors"]` then `echo = "my_package:EchoExecutor"`.
ENTRY_POINT_GROUP = "scheduler.executors"


def discover_executors(names: Collection[str] | None = None) -> list[TaskExecutor]:
    """The executors the installed distributions declare, built and ready to register.

    An entry point names an executor instance, or a class or function that builds one when
    called with no arguments; its name is the executor's name. `names` picks some of them (all
    when None). `InvalidInput` when a picked plugin is missing, fails to load or build, or is
    not an executor: a worker should not start without an executor it was asked to offer.
    """
    found: dict[str, EntryPoint] = {}
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        if names is not None and entry_point.name not in names:
            continue
        if entry_point.name in found and found[entry_point.name].value != entry_point.value:
            raise InvalidInput.for_field(
                ENTRY_POINT_GROUP, f"two installed plugins declare the executor {entry_point.name!r}"
            )
        found[entry_point.name] = entry_point
    missing = sorted(set(names or ()) - set(found))
    if missing:
        installed = ", ".join(sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))) or "none"
        raise InvalidInput.for_field(
            ENTRY_POINT_GROUP,
            f"no executor plugin named {missing[0]!r} is installed (installed: {installed})",
        )
    return [_build(entry_point) for entry_point in found.values()]


def _build(entry_point: EntryPoint) -> TaskExecutor:
    try:
        provided = entry_point.load()
        executor = provided() if isinstance(provided, type) or not hasattr(provided, "execute") else provided
    except Exception as exc:
        raise InvalidInput.for_field(
            ENTRY_POINT_GROUP,
            f"the executor plugin {entry_point.name!r} ({entry_point.value}) failed: {exc!r}",
        ) from exc
    if not callable(getattr(executor, "execute", None)) or not isinstance(
        getattr(executor, "name", None), str
    ):
        raise InvalidInput.for_field(
            ENTRY_POINT_GROUP, f"the plugin {entry_point.name!r} ({entry_point.value}) is not an executor"
        )
    if executor.name != entry_point.name:
        raise InvalidInput.for_field(
            ENTRY_POINT_GROUP,
            f"the plugin {entry_point.name!r} builds an executor named {executor.name!r};"
            " the names must match",
        )
    return cast("TaskExecutor", executor)
