"""Rules of the dependency graph: every dependency exists, and there is no cycle."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from scheduler_errors import InvalidInput


def check_dependencies(
    task_id: int,
    dependencies: Collection[int],
    *,
    graph: Mapping[int, Collection[int]],
) -> None:
    """Raise `InvalidInput` unless `task_id -> dependencies` keeps `graph` a DAG of known tasks.

    `graph` maps every existing task id to the ids it depends on; `task_id` is 0 for a task not
    stored yet (which nothing can depend on, so it cannot close a cycle).
    """
    unknown = sorted(dep for dep in dependencies if dep not in graph)
    if unknown:
        raise InvalidInput.for_field("dependencies", f"unknown task ids {unknown}")
    if task_id and task_id in dependencies:
        raise InvalidInput.for_field("dependencies", "a task cannot depend on itself")
    if not task_id:
        return
    cycle = _path_back(task_id, dependencies, graph)
    if cycle:
        chain = " -> ".join(str(node) for node in [task_id, *cycle])
        raise InvalidInput.for_field("dependencies", f"would create a cycle: {chain}")


def _path_back(start: int, roots: Collection[int], graph: Mapping[int, Collection[int]]) -> list[int]:
    """A dependency path from one of `roots` back to `start`, or [] when there is none."""
    stack: list[tuple[int, list[int]]] = [(root, [root]) for root in roots]
    seen: set[int] = set()
    while stack:
        node, path = stack.pop()
        if node == start:
            return path
        if node in seen:
            continue
        seen.add(node)
        stack.extend((nxt, [*path, nxt]) for nxt in graph.get(node, ()))
    return []
