"""Retry delays: exponential backoff, a cap, jitter within bounds; how many retries."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler_domain import RetryPolicy
from scheduler_domain.task import MAX_RETRIES


def test_delays_double_with_every_attempt() -> None:
    policy = RetryPolicy(backoff_seconds=10, cap_seconds=10_000, jitter=0)

    assert [policy.delay_after(n) for n in (1, 2, 3, 4, 5)] == [10, 20, 40, 80, 160]


def test_the_cap_bounds_the_growth() -> None:
    policy = RetryPolicy(backoff_seconds=10, cap_seconds=60, jitter=0)

    assert [policy.delay_after(n) for n in (3, 4, 10, 100)] == [40, 60, 60, 60]


@pytest.mark.parametrize("attempt", [0, -3])
def test_attempts_before_the_first_wait_the_base_delay(attempt: int) -> None:
    assert RetryPolicy(backoff_seconds=7, jitter=0).delay_after(attempt) == 7


def test_jitter_adds_up_to_its_share_of_the_delay() -> None:
    policy = RetryPolicy(backoff_seconds=10, cap_seconds=3600, jitter=0.5)
    rng = random.Random(1234)

    delays = [policy.delay_after(3, rng) for _ in range(200)]

    assert all(40 <= delay <= 60 for delay in delays)
    assert len(set(delays)) > 100  # it really is random, not a constant


def test_the_same_seed_gives_the_same_delays() -> None:
    policy = RetryPolicy(backoff_seconds=10)

    first = [policy.delay_after(n, random.Random(99)) for n in range(1, 6)]
    second = [policy.delay_after(n, random.Random(99)) for n in range(1, 6)]

    assert first == second


@given(
    backoff=st.floats(min_value=0, max_value=1e4),
    cap=st.floats(min_value=0, max_value=1e5),
    jitter=st.floats(min_value=0, max_value=1),
    attempt=st.integers(min_value=1, max_value=MAX_RETRIES + 1),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_delay_stays_between_the_capped_backoff_and_its_jitter(
    backoff: float, cap: float, jitter: float, attempt: int, seed: int
) -> None:
    policy = RetryPolicy(backoff_seconds=backoff, cap_seconds=cap, jitter=jitter)
    base = min(backoff * 2 ** (attempt - 1), cap)

    delay = policy.delay_after(attempt, random.Random(seed))

    assert base <= delay <= base * (1 + jitter) + 1e-9
    assert delay <= cap * (1 + jitter) + 1e-9


@given(
    max_retries=st.integers(min_value=0, max_value=MAX_RETRIES),
    attempt=st.integers(min_value=1, max_value=MAX_RETRIES + 2),
)
def test_a_policy_allows_max_retries_attempts_after_the_first(max_retries: int, attempt: int) -> None:
    assert RetryPolicy(max_retries=max_retries).allows_another(attempt) is (attempt <= max_retries)


@pytest.mark.parametrize(("attempt", "allowed"), [(1, True), (2, True), (3, True), (4, False), (5, False)])
def test_allows_another_boundary(attempt: int, allowed: bool) -> None:
    assert RetryPolicy(max_retries=3).allows_another(attempt) is allowed


def test_no_retries_means_the_first_attempt_is_the_last() -> None:
    assert not RetryPolicy(max_retries=0).allows_another(1)
