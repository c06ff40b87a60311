"""`api.rate_limit_*` and `api.auth_failures_*`: checked when loaded, and handed to the API as its limits."""

from __future__ import annotations

import pytest

from scheduler_api.limits import Rate, RateLimits
from scheduler_app.containers.parts import api_rate_limits
from scheduler_config import load_config
from scheduler_errors import InvalidInput


def test_the_defaults_are_the_api_s_and_allow_a_busy_client() -> None:
    limits = api_rate_limits(load_config({}))

    assert limits == RateLimits()
    assert limits.per_credential == Rate(per_second=1000.0, burst=2000)
    assert limits.auth_failures == Rate(per_second=5.0, burst=50)


def test_the_settings_reach_the_limits_and_zero_turns_one_off() -> None:
    limits = api_rate_limits(
        load_config(
            {
                "SCHEDULER_API__RATE_LIMIT_PER_SECOND": "2.5",
                "SCHEDULER_API__RATE_LIMIT_BURST": "7",
                "SCHEDULER_API__AUTH_FAILURES_PER_SECOND": "0",
                "SCHEDULER_API__AUTH_FAILURES_BURST": "3",
            }
        )
    )

    assert limits.per_credential == Rate(per_second=2.5, burst=7)
    assert not limits.per_credential.unlimited
    assert limits.auth_failures.unlimited


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RATE_LIMIT_PER_SECOND", "-1"),
        ("RATE_LIMIT_BURST", "-1"),
        ("AUTH_FAILURES_PER_SECOND", "-0.5"),
        ("AUTH_FAILURES_BURST", "-2"),
        ("RATE_LIMIT_PER_SECOND", "nan"),
        ("AUTH_FAILURES_PER_SECOND", "inf"),
    ],
)
def test_a_negative_or_not_finite_limit_is_refused_by_name(variable: str, value: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        load_config({f"SCHEDULER_API__{variable}": value})

    assert f"api.{variable.lower()}" in refused.value.detail
