"""Rate limits of the API: a token bucket per credential and one per client address for failed logins.

Two limits guard every request under `/api/v1`, both checked before authentication, so a refused
request costs no store read:

* per credential: each `X-API-Key` or `Authorization: Bearer` value has a bucket of `burst`
  tokens refilled at `per_second`; a request takes one, and is answered 429 when there is none.
  A key and each token exchanged for it are different credentials. The bucket is found by a
  digest of the credential: no secret is kept.
* per client address, for failed authentication: every 401 answer takes a token from the bucket
  of the connection's address (`X-Forwarded-For` is not trusted, as in `scheduler_api.audit`);
  while it is empty, every request from that address is answered 429, whatever its credential.
  This stops key guessing and floods of unknown keys (each one a store read when not cached).

A 429 is an RFC 9457 problem with `Retry-After` (whole seconds, at least 1). `/health`, `/ready`,
`/metrics` and `/schema` are outside `/api/v1` and never limited. The buckets live in the
process: N API processes behind a balancer admit N times the rate.

Memory is bounded: a bucket full again is the same as none and is dropped once it is the least
recently used, and each map holds at most `max_buckets` (`MAX_BUCKETS`), the least recently used
bucket making room for a new one, so random keys or addresses cannot grow it without bound.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from litestar import Request
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from msgspec import Struct

from scheduler_api.auth import API_KEY_HEADER
from scheduler_api.problems import problem_response
from scheduler_observability.metrics import Metrics

#: Buckets each map holds at most: about 2 MB of them. A bucket is kept only while it is not full again
#: (milliseconds after a request at the default rate), so only a flood of distinct keys or
#: addresses reaches it; the least recently used bucket then goes first.
MAX_BUCKETS = 10_000
#: The `reason` label of `scheduler_api_rate_limited_total`.
CREDENTIAL = "credential"
AUTH_FAILURES = "auth_failures"

_API_KEY = API_KEY_HEADER.lower().encode()
_AUTHORIZATION = b"authorization"
_BEARER = b"bearer"


class Rate(Struct, frozen=True, kw_only=True):
    """A token bucket's size: `burst` tokens, refilled at `per_second`; 0 in either: no limit."""

    per_second: float
    burst: int

    @property
    def unlimited(self) -> bool:
        """True when this rate limits nothing."""
        return self.per_second <= 0 or self.burst <= 0


class RateLimits(Struct, frozen=True, kw_only=True):
    """The API's limits (the defaults are `ApiConfig`'s); see the module's documentation."""

    per_credential: Rate = Rate(per_second=1000.0, burst=2000)
    auth_failures: Rate = Rate(per_second=5.0, burst=50)
    max_buckets: int = MAX_BUCKETS


#: The limits by default.
DEFAULT_LIMITS = RateLimits()


class TokenBuckets:
    """A token bucket per key, all of the same `rate`, at most `max_buckets` of them.

    A bucket is kept as the moment it is full again: it then holds `burst - (full_at - now) *
    per_second` tokens. One float per key, and a key without one has a full bucket.
    `monotonic` tells the time in seconds (`time.monotonic`; a fake in tests).
    """

    def __init__(self, rate: Rate, *, max_buckets: int, monotonic: Callable[[], float]) -> None:
        if rate.unlimited or max_buckets < 1:
            raise ValueError("a token bucket needs a positive rate, burst and max_buckets")
        self._interval = 1.0 / rate.per_second
        self._depth = rate.burst * self._interval
        # Rounding: 2000 takes at 1000/s add up to 2.0000000000000013 s, and moments around 1.7e9 s
        # (a wall clock) are 2.4e-7 s apart. A thousandth of a token short counts as a token.
        self._slack = self._interval / 1000
        self._max_buckets = max_buckets
        self._monotonic = monotonic
        self._full_at: OrderedDict[Hashable, float] = OrderedDict()

    def __len__(self) -> int:
        """The buckets held: those not full again, at most `max_buckets`."""
        return len(self._full_at)

    def take(self, key: Hashable) -> float:
        """Take a token from `key`'s bucket: 0.0 when it had one, else the seconds until it has one."""
        now = self._monotonic()
        full_at = self._full_at.get(key, now)
        debt = full_at - now if full_at > now else 0.0
        short = debt + self._interval - self._depth
        if short > self._slack:
            self._full_at.move_to_end(key)
            return short
        self._keep(key, now + debt + self._interval, now)
        return 0.0

    def wait(self, key: Hashable) -> float:
        """The seconds until `key`'s bucket holds a token; 0.0 when it holds one. Takes none."""
        full_at = self._full_at.get(key)
        if full_at is None:
            return 0.0
        short = full_at - self._monotonic() + self._interval - self._depth
        return short if short > self._slack else 0.0

    def _keep(self, key: Hashable, full_at: float, now: float) -> None:
        buckets = self._full_at
        buckets[key] = full_at
        buckets.move_to_end(key)
        if len(buckets) > self._max_buckets:
            buckets.popitem(last=False)
        # The least recently used buckets, when full again, are as good as none: drop up to two
        # for the one this take may have added, so buckets full again do not pile up. `key`'s own
        # bucket is not full (it was just taken from), so one is always left.
        for _ in range(2):
            oldest = next(iter(buckets))
            if buckets[oldest] > now:
                return
            del buckets[oldest]


def credential_digest(headers: Iterable[tuple[bytes, bytes]]) -> bytes | None:
    """A digest of the request's credential, as `scheduler_api.auth.credential_of` finds it
    (`X-API-Key`, else `Authorization: Bearer`), from the raw ASGI headers; None without one."""
    bearer = None
    for name, value in headers:
        if name == _API_KEY:
            if key := value.strip():
                return _digest(key)
        elif name == _AUTHORIZATION and bearer is None:
            scheme, _, secret = value.strip().partition(b" ")
            if scheme.lower() == _BEARER:
                bearer = secret.strip() or None
    return None if bearer is None else _digest(bearer)


def rate_limit_middleware(limiter: RateLimiter) -> Callable[[ASGIApp], ASGIApp]:
    """The middleware enforcing `limiter`'s limits (see above).

    Closures, as in `scheduler_api.audit`: Litestar deep-copies a Router, and a copied limiter
    would neither share its buckets nor see an `update`.
    """

    def wrap(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await app(scope, receive, send)
                return
            client = scope.get("client")
            address = client[0] if client else ""
            refusal = limiter.refusal(scope, address)
            if refusal is None:
                await app(scope, receive, limiter.watching(send, address))
            else:
                await _refuse(scope, receive, send, *refusal)

        return middleware

    return wrap


class RateLimiter:
    """The buckets of both limits and what a refusal by each says, counting each 429 in
    `metrics` by reason. `update` puts new limits in force while the API serves (a settings
    reload); every bucket then starts full under them."""

    def __init__(
        self, limits: RateLimits, metrics: Metrics, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._monotonic = monotonic
        refused = metrics.api_rate_limited
        self._refused_credential = refused.labels(CREDENTIAL)  # both shown from the start, at 0
        self._refused_address = refused.labels(AUTH_FAILURES)
        self.update(limits)

    def update(self, limits: RateLimits) -> None:
        """Enforce `limits` from now on."""
        self.limits = limits
        self._per_credential = _buckets(limits.per_credential, limits, self._monotonic)
        self._per_address = _buckets(limits.auth_failures, limits, self._monotonic)
        self._credential_detail = _credential_detail(limits.per_credential)
        self._address_detail = _address_detail(limits.auth_failures)

    def refusal(self, scope: Scope, address: str) -> tuple[float, str] | None:
        """The wait and the detail of a 429 for this request; None when it may pass (its
        credential's bucket then gave a token)."""
        if self._per_address is not None and (wait := self._per_address.wait(address)):
            self._refused_address.inc()
            return wait, self._address_detail
        if self._per_credential is not None:
            digest = credential_digest(scope["headers"])
            if digest is not None and (wait := self._per_credential.take(digest)):
                self._refused_credential.inc()
                return wait, self._credential_detail
        return None

    def watching(self, send: Send, address: str) -> Send:
        """`send`, charging `address` with each 401 it answers (as is, when failures are not limited)."""
        if self._per_address is None:
            return send
        return _charging_failures(send, self._per_address, address)


def retry_after(wait: float) -> int:
    """`Retry-After` for a wait of `wait` seconds: whole seconds, rounded up, at least 1."""
    return max(1, math.ceil(wait))


def _buckets(rate: Rate, limits: RateLimits, monotonic: Callable[[], float]) -> TokenBuckets | None:
    if rate.unlimited:
        return None
    return TokenBuckets(rate, max_buckets=limits.max_buckets, monotonic=monotonic)


def _charging_failures(send: Send, buckets: TokenBuckets, address: str) -> Send:
    """`send`, taking a token from `address`'s bucket when the answer is a 401."""

    async def watched(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] == 401:
            buckets.take(address)
        await send(message)

    return watched


async def _refuse(scope: Scope, receive: Receive, send: Send, wait: float, detail: str) -> None:
    seconds = retry_after(wait)
    request: Request[Any, Any, Any] = Request(scope)
    response = problem_response(
        request, 429, f"{detail}: retry after {seconds} s", headers={"Retry-After": str(seconds)}
    )
    await response.to_asgi_response(app=None, request=request)(scope, receive, send)


def _credential_detail(rate: Rate) -> str:
    return (
        f"this credential sent more requests than it may ({rate.per_second:g} per second,"
        f" in bursts of up to {rate.burst})"
    )


def _address_detail(rate: Rate) -> str:
    return (
        "too many requests from this address failed authentication"
        f" ({rate.burst} at once, then {rate.per_second:g} per second)"
    )


def _digest(secret: bytes) -> bytes:
    return hashlib.blake2b(secret, digest_size=16).digest()
