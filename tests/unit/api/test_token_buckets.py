"""The token buckets behind the API's rate limits, timed by a fake clock."""

from __future__ import annotations

import secrets

import pytest

from scheduler_api.limits import Rate, RateLimits, TokenBuckets, credential_digest, retry_after


class FakeMonotonic:
    """Seconds that pass only when a test says so."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds

    def advance(self, seconds: float) -> None:
        self.seconds += seconds


@pytest.fixture
def clock() -> FakeMonotonic:
    return FakeMonotonic()


def buckets(clock: FakeMonotonic, per_second: float, burst: int, max_buckets: int = 1000) -> TokenBuckets:
    return TokenBuckets(Rate(per_second=per_second, burst=burst), max_buckets=max_buckets, monotonic=clock)


def test_a_full_bucket_gives_its_burst_at_once_then_says_how_long_until_the_next_token(
    clock: FakeMonotonic,
) -> None:
    limited = buckets(clock, per_second=2, burst=3)

    assert [limited.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limited.take("k") == pytest.approx(0.5)
    clock.advance(0.2)
    assert limited.take("k") == pytest.approx(0.3)


def test_tokens_come_back_at_the_rate_and_never_past_the_burst(clock: FakeMonotonic) -> None:
    limited = buckets(clock, per_second=2, burst=3)
    for _ in range(3):
        limited.take("k")

    clock.advance(1.2)  # 2.4 tokens
    assert [limited.take("k") == 0.0 for _ in range(3)] == [True, True, False]
    clock.advance(3600)
    assert [limited.take("k") == 0.0 for _ in range(4)] == [True, True, True, False]


def test_a_refused_take_costs_nothing_so_hammering_does_not_push_the_wait_back(clock: FakeMonotonic) -> None:
    limited = buckets(clock, per_second=1, burst=1)
    limited.take("k")

    waits = [limited.take("k") for _ in range(100)]

    assert waits == [pytest.approx(1.0)] * 100
    clock.advance(1)
    assert limited.take("k") == 0.0


def test_wait_tells_without_taking(clock: FakeMonotonic) -> None:
    limited = buckets(clock, per_second=1, burst=2)

    assert limited.wait("k") == 0.0
    limited.take("k")
    assert limited.wait("k") == 0.0
    limited.take("k")
    assert [limited.wait("k") for _ in range(3)] == [pytest.approx(1.0)] * 3
    clock.advance(1)
    assert limited.wait("k") == 0.0
    assert limited.take("k") == 0.0


def test_each_key_has_a_bucket_of_its_own(clock: FakeMonotonic) -> None:
    limited = buckets(clock, per_second=1, burst=1)
    limited.take("a")

    assert limited.take("a") > 0
    assert limited.take("b") == 0.0


@pytest.mark.parametrize(
    ("wait", "seconds"), [(0.001, 1), (0.5, 1), (1.0, 1), (1.01, 2), (9.2, 10), (10.0, 10)]
)
def test_retry_after_is_whole_seconds_rounded_up_and_at_least_one(wait: float, seconds: int) -> None:
    assert retry_after(wait) == seconds


def test_the_default_limit_lets_one_client_send_500_requests_a_second_and_stops_2500(
    clock: FakeMonotonic,
) -> None:
    defaults = RateLimits()
    limited = TokenBuckets(defaults.per_credential, max_buckets=defaults.max_buckets, monotonic=clock)

    def refused_in_a_minute_at(per_second: int) -> int:
        refused = 0
        for _ in range(60 * per_second):
            clock.advance(1 / per_second)
            refused += limited.take(per_second) > 0
        return refused

    assert refused_in_a_minute_at(500) == 0
    assert refused_in_a_minute_at(2500) > 0


def test_random_keys_cannot_grow_the_buckets_past_their_bound(clock: FakeMonotonic) -> None:
    limited = buckets(clock, per_second=0.001, burst=1, max_buckets=100)  # nothing refills meanwhile
    kept = "kept"
    limited.take(kept)

    for n in range(10_000):
        limited.take(secrets.token_bytes(16))
        if n % 50 == 0:
            assert limited.take(kept) > 0  # recently used: its bucket stays, still empty

    assert len(limited) == 100
    assert limited.take(kept) > 0


def test_a_bucket_full_again_is_dropped(clock: FakeMonotonic) -> None:
    limited = buckets(clock, per_second=10, burst=5)
    for n in range(500):
        limited.take(n)
    assert len(limited) == 500

    for _ in range(250):  # a steady client: each of its takes drops up to two buckets full again
        clock.advance(0.1)
        assert limited.take("busy") == 0.0

    assert len(limited) == 1


def test_a_bucket_full_again_makes_room_for_a_new_one(clock: FakeMonotonic) -> None:
    limited = buckets(clock, per_second=1, burst=1, max_buckets=2)
    limited.take("old")
    limited.take("recent")
    clock.advance(1.0)  # both full again

    assert limited.take("new") == 0.0
    assert len(limited) <= 2


def test_a_flood_of_new_keys_cannot_push_out_the_buckets_it_emptied(clock: FakeMonotonic) -> None:
    limited = buckets(clock, per_second=0.001, burst=1, max_buckets=2)
    limited.take("attacker")
    limited.take("other")

    waits = [limited.take(f"new-{n}") for n in range(100)]  # no room: every held bucket is short

    assert all(wait > 0 for wait in waits)
    assert limited.take("attacker") > 0  # still empty, not forgotten
    assert len(limited) == 2


def test_an_unlimited_rate_has_no_bucket(clock: FakeMonotonic) -> None:
    with pytest.raises(ValueError, match="positive"):
        buckets(clock, per_second=0, burst=10)


def headers(**named: str) -> list[tuple[bytes, bytes]]:
    return [(name.replace("_", "-").lower().encode(), value.encode()) for name, value in named.items()]


def test_a_credential_is_one_bucket_however_it_is_sent_and_its_digest_hides_it() -> None:
    by_header = credential_digest(headers(x_api_key="sk-secret-value"))
    by_bearer = credential_digest(headers(authorization="Bearer  sk-secret-value "))

    assert by_header is not None
    assert by_header == by_bearer
    assert b"secret" not in by_header
    assert len(by_header) == 16
    assert credential_digest(headers(x_api_key="another")) != by_header


def test_the_api_key_header_wins_over_a_bearer_as_authentication_reads_them() -> None:
    both = headers(authorization="Bearer token-b", x_api_key="key-a")

    assert credential_digest(both) == credential_digest(headers(x_api_key="key-a"))


@pytest.mark.parametrize(
    "sent",
    [{}, {"x_api_key": "  "}, {"authorization": "Basic dXNlcjpwYXNz"}, {"authorization": "Bearer "}],
)
def test_no_credential_has_no_digest(sent: dict[str, str]) -> None:
    assert credential_digest(headers(**sent)) is None
