"""Dependency rules: known tasks only, no self-dependency, no cycle; diamonds are fine."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import pytest

from scheduler_domain import check_dependencies
from scheduler_errors import InvalidInput


def rejection(task_id: int, dependencies: Collection[int], graph: Mapping[int, Collection[int]]) -> str:
    with pytest.raises(InvalidInput) as caught:
        check_dependencies(task_id, dependencies, graph=graph)
    assert [error.field for error in caught.value.errors] == ["dependencies"]
    return caught.value.detail


def test_unknown_ids_are_rejected_and_named() -> None:
    detail = rejection(0, [1, 42, 7], {1: ()})

    assert "[7, 42]" in detail


def test_a_task_cannot_depend_on_itself() -> None:
    assert "itself" in rejection(3, [3], {3: ()})


def test_a_direct_cycle_is_rejected_with_its_chain() -> None:
    graph = {1: (), 2: (1,)}

    assert rejection(1, [2], graph).endswith("would create a cycle: 1 -> 2 -> 1")


def test_an_indirect_cycle_is_rejected_with_its_chain() -> None:
    graph = {1: (), 2: (3,), 3: (4,), 4: (1,)}

    assert rejection(1, [2], graph).endswith("would create a cycle: 1 -> 2 -> 3 -> 4 -> 1")


def test_a_cycle_through_one_of_several_dependencies_is_found() -> None:
    graph = {1: (), 2: (), 3: (5,), 5: (1,)}

    assert "1 -> 3 -> 5 -> 1" in rejection(1, [2, 3], graph)


def test_a_diamond_is_accepted() -> None:
    # 4 depends on 2 and 3, which both depend on 1.
    graph = {1: (), 2: (1,), 3: (1,), 4: ()}

    check_dependencies(4, [2, 3], graph=graph)
    check_dependencies(0, [2, 3], graph=graph)


def test_editing_a_task_that_others_depend_on_is_fine_without_a_cycle() -> None:
    graph = {1: (), 2: (1,), 3: (2,), 9: ()}

    check_dependencies(1, [9], graph=graph)


def test_a_new_task_cannot_close_a_cycle() -> None:
    check_dependencies(0, [1, 2], graph={1: (2,), 2: ()})


def test_no_dependencies_is_always_fine() -> None:
    check_dependencies(5, [], graph={})
