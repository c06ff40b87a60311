"""What the limiter admits: requests in flight hold a token of their address, a credential that
authenticated holds none, and IPv6 clients are counted by their /64."""

from __future__ import annotations

from litestar.types import Message

from scheduler_api.limits import Admission, Rate, RateLimiter, RateLimits, address_key
from scheduler_observability.metrics import Metrics

ADDRESS = "203.0.113.7"
#: Few failures allowed, and none refilled while a test runs.
STRICT = RateLimits(
    per_credential=Rate(per_second=1000, burst=1000), auth_failures=Rate(per_second=0.001, burst=3)
)


def limiter() -> RateLimiter:
    return RateLimiter(STRICT, Metrics(), monotonic=lambda: 1000.0)


def scope(key: str | None) -> dict[str, object]:
    headers = [] if key is None else [(b"x-api-key", key.encode())]
    return {"type": "http", "headers": headers}


async def answer(limiter: RateLimiter, admission: Admission, status: int) -> None:
    """Send the start of an answer with `status` through the limiter's watch of `admission`."""

    async def send(message: Message) -> None:
        assert message["status"] == status

    await limiter.watching(send, admission)({"type": "http.response.start", "status": status, "headers": []})


def test_requests_in_flight_with_unknown_keys_cannot_outnumber_the_failures_allowed() -> None:
    limits = limiter()

    in_flight = [limits.admit(scope(f"guess-{n}"), ADDRESS) for n in range(10)]  # none answered yet

    assert [admission.refusal is None for admission in in_flight] == [True] * 3 + [False] * 7


async def test_a_request_that_authenticates_gives_its_token_back_and_its_key_holds_none_after() -> None:
    limits = limiter()
    first = limits.admit(scope("good"), ADDRESS)
    await answer(limits, first, 200)

    in_flight = [limits.admit(scope("good"), ADDRESS) for _ in range(10)]

    assert all(admission.refusal is None and not admission.holds_token for admission in in_flight)
    assert all(limits.admit(scope(f"guess-{n}"), ADDRESS).refusal is None for n in range(3))


async def test_failures_empty_the_address_for_every_key_even_a_trusted_one() -> None:
    limits = limiter()
    await answer(limits, limits.admit(scope("good"), ADDRESS), 200)

    for n in range(3):
        await answer(limits, limits.admit(scope(f"guess-{n}"), ADDRESS), 401)

    assert limits.admit(scope("good"), ADDRESS).refusal is not None
    assert limits.admit(scope("good"), "198.51.100.1").refusal is None


def test_ipv6_clients_are_counted_by_their_64() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key(ADDRESS) == ADDRESS
    assert address_key("not an address") == "not an address"


async def test_a_credential_refused_later_holds_a_token_again() -> None:
    limits = limiter()
    await answer(limits, limits.admit(scope("revoked-soon"), ADDRESS), 200)
    await answer(limits, limits.admit(scope("revoked-soon"), ADDRESS), 401)  # revoked meanwhile

    in_flight = [limits.admit(scope("revoked-soon"), ADDRESS) for _ in range(5)]

    assert [admission.refusal is None for admission in in_flight] == [True, True, False, False, False]
