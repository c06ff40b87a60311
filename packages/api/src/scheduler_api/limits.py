"""Rate limits of the API: a token bucket per credential and one per client address for failed logins.

Two limits guard every request under `/api/v1`, both checked before authentication, so a refused
request costs no store read:

* per credential: each `X-API-Key` or `Authorization: Bearer` value has a bucket of `burst`
  tokens refilled at `per_second`; a request takes one, and is answered 429 when there is none.
  A key and each token exchanged for it are different credentials. The bucket is found by a
  digest of the credential: no secret is kept.
* per client address, for failed authentication: every 401 answer takes a token from the bucket
  of the connection's address (`X-Forwarded-For` is not trusted, as in `scheduler_api.audit`; an
  IPv6 address counts by its /64); while it is empty, every request from that address is answered
  429, whatever its credential. A request whose credential did not authenticate here lately holds
  a token while it is answered and gives it back unless the answer is a 401, so requests in
  flight at once cannot outnumber the failures allowed. This stops key guessing and floods of
  unknown keys (each one a store read when not cached).

A 429 is an RFC 9457 problem with `Retry-After` (whole seconds, at least 1). `/health`, `/ready`,
`/metrics` and `/schema` are outside `/api/v1` and never limited. The buckets live in the
process: N API processes behind a balancer admit N times the rate.

Memory is bounded: a bucket full again is the same as none and is dropped once it is the least
recently used, and each map holds at most `max_buckets` (`MAX_BUCKETS`): a bucket full again makes
room for a new one, and while none is, a new key waits (random keys or addresses can neither grow
the map without bound nor push out the buckets they emptied).
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
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
        """Take a token from `key`'s bucket: 0.0 when it had one, else the seconds until it has one.

        With `max_buckets` held, a key without a bucket gets one only in place of a bucket full
        again; while every bucket held is still short of tokens, a new key waits as long as the
        least recently used one (so a flood of new keys cannot push out the buckets it emptied).
        """
        now = self._monotonic()
        buckets = self._full_at
        full_at = buckets.get(key)
        if full_at is None and len(buckets) >= self._max_buckets:
            oldest, oldest_full_at = next(iter(buckets.items()))
            if oldest_full_at > now:
                return max(oldest_full_at - now, self._interval)
            del buckets[oldest]
        if full_at is None:
            full_at = now
        debt = full_at - now if full_at > now else 0.0
        short = debt + self._interval - self._depth
        if short > self._slack:
            buckets.move_to_end(key)
            return short
        self._keep(key, now + debt + self._interval, now)
        return 0.0

    def give_back(self, key: Hashable) -> None:
        """Put back a token taken from `key`'s bucket (one held for a request that, in the end,
        did not need it)."""
        full_at = self._full_at.get(key)
        if full_at is None:
            return
        full_at -= self._interval
        if full_at <= self._monotonic():
            del self._full_at[key]
        else:
            self._full_at[key] = full_at

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
            request = limiter.admit(scope, address_key(client[0]) if client else "")
            if request.refusal is None:
                await app(scope, receive, limiter.watching(send, request))
            else:
                await _refuse(scope, receive, send, *request.refusal)

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
        #: Digests of credentials that authenticated lately (a request got another answer than
        #: 401), least recently used first: their requests hold no token of their address.
        self._trusted: OrderedDict[bytes, None] = OrderedDict()
        self._credential_detail = _credential_detail(limits.per_credential)
        self._address_detail = _address_detail(limits.auth_failures)

    def admit(self, scope: Scope, address: str) -> Admission:
        """Whether this request from `address` (see `address_key`) may pass.

        A request whose credential did not authenticate here lately holds a token of its
        address's bucket while it is answered: given back unless the answer is a 401, so requests
        in flight at once cannot outnumber the failures the address may still make. A credential
        that did authenticate (`trusted`) holds none; a 401 it gets still takes one. Then the
        credential's own bucket gives a token.
        """
        digest = credential_digest(scope["headers"])
        admission = Admission(address=address, digest=digest)
        if self._per_address is not None:
            if digest is not None and digest in self._trusted:
                wait = self._per_address.wait(address)
            else:
                wait = self._per_address.take(address)
                admission.holds_token = not wait
            if wait:
                self._refused_address.inc()
                admission.refusal = (wait, self._address_detail)
                return admission
        credential = self._per_credential
        if credential is not None and digest is not None and (wait := credential.take(digest)):
            self._refused_credential.inc()
            self._settle(admission, 429)
            admission.refusal = (wait, self._credential_detail)
        return admission

    def watching(self, send: Send, admission: Admission) -> Send:
        """`send`, settling `admission` by the status of the answer it carries."""
        if self._per_address is None:
            return send

        async def watched(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._settle(admission, message["status"])
            await send(message)

        return watched

    def _settle(self, admission: Admission, status: int) -> None:
        buckets = self._per_address
        if buckets is None:
            return
        if status == 401:
            if not admission.holds_token:
                buckets.take(admission.address)
            if admission.digest is not None:  # revoked or expired: no longer spared the hold
                self._trusted.pop(admission.digest, None)
            return
        if admission.holds_token:
            buckets.give_back(admission.address)
            admission.holds_token = False
        if admission.digest is not None and status != 429:
            self._trust(admission.digest)

    def _trust(self, digest: bytes) -> None:
        trusted = self._trusted
        trusted[digest] = None
        trusted.move_to_end(digest)
        if len(trusted) > MAX_BUCKETS:
            trusted.popitem(last=False)


class Admission:
    """One request's passage: the address and credential it came with, whether it holds a token
    of its address's bucket, and the wait and detail of its 429 when it is refused."""

    __slots__ = ("address", "digest", "holds_token", "refusal")

    def __init__(self, *, address: str, digest: bytes | None) -> None:
        self.address = address
        self.digest = digest
        self.holds_token = False
        self.refusal: tuple[float, str] | None = None


@functools.lru_cache(maxsize=4096)  # parsing an IPv6 address takes about 10 us
def address_key(address: str) -> str:
    """The key of a client address's bucket: the address itself for IPv4, its /64 for IPv6 (one
    host is commonly given a whole /64, and may use any address in it)."""
    if ":" not in address:
        return address
    try:
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False).network_address)
    except ValueError:
        return address


def retry_after(wait: float) -> int:
    """`Retry-After` for a wait of `wait` seconds: whole seconds, rounded up, at least 1."""
    return max(1, math.ceil(wait))


def _buckets(rate: Rate, limits: RateLimits, monotonic: Callable[[], float]) -> TokenBuckets | None:
    if rate.unlimited:
        return None
    return TokenBuckets(rate, max_buckets=limits.max_buckets, monotonic=monotonic)


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
