"""Fixtures of the worker integration tests: deadline-bound waiting and process checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from scheduler_testing.waiting import eventually, process_is_dead


@pytest.fixture
def wait_until() -> Callable[..., Awaitable[None]]:
    """`await wait_until(condition, within=...)`."""
    return eventually


@pytest.fixture
def is_dead() -> Callable[[int], bool]:
    """`is_dead(pid)`: the process is gone or a zombie."""
    return process_is_dead
