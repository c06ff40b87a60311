"""The `[circuit_breaker]` settings: defaults, env vars, and their ranges."""

from __future__ import annotations

import pytest

from scheduler_config import CircuitBreakerConfig, load_config
from scheduler_errors import InvalidInput


def test_breakers_are_on_by_default() -> None:
    settings = load_config({}).circuit_breaker

    assert settings == CircuitBreakerConfig(
        failure_threshold=5, reset_timeout_seconds=5.0, half_open_max_calls=1
    )


def test_env_vars_set_them() -> None:
    settings = load_config(
        {
            "SCHEDULER_CIRCUIT_BREAKER__FAILURE_THRESHOLD": "0",
            "SCHEDULER_CIRCUIT_BREAKER__RESET_TIMEOUT_SECONDS": "0.5",
            "SCHEDULER_CIRCUIT_BREAKER__HALF_OPEN_MAX_CALLS": "3",
        }
    ).circuit_breaker

    assert settings == CircuitBreakerConfig(
        failure_threshold=0, reset_timeout_seconds=0.5, half_open_max_calls=3
    )


@pytest.mark.parametrize(
    ("name", "value", "told"),
    [
        (
            "FAILURE_THRESHOLD",
            "-1",
            "circuit_breaker.failure_threshold: must not be negative (0: no breakers)",
        ),
        ("RESET_TIMEOUT_SECONDS", "0", "circuit_breaker.reset_timeout_seconds: must be positive"),
        ("RESET_TIMEOUT_SECONDS", "nan", "circuit_breaker.reset_timeout_seconds: must be a finite number"),
        ("HALF_OPEN_MAX_CALLS", "0", "circuit_breaker.half_open_max_calls: must be at least 1"),
    ],
)
def test_a_value_out_of_range_is_named(name: str, value: str, told: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        load_config({f"SCHEDULER_CIRCUIT_BREAKER__{name}": value})

    assert str(caught.value) == told


def test_an_unknown_key_is_refused() -> None:
    with pytest.raises(InvalidInput, match="tripped"):
        load_config({"SCHEDULER_CIRCUIT_BREAKER__TRIPPED": "1"})
