"""JWTs signed by an outside identity provider (RS256 or ES256), checked against the keys it publishes.

A bearer token whose header names RS256 or ES256 and a `kid` is checked with the key of that `kid`
in the provider's JWKS (`api.jwt_jwks_url`): its signature (the algorithm must suit the key: an
RSA key for RS256, a P-256 key for ES256; a shared secret never, so a token cannot be signed HS256
with a public key), its expiry against the scheduler's clock, its issuer (`api.jwt_jwks_issuer`),
its audience (`api.jwt_audience`, as for the API's own tokens) and its subject. Its role is the
claim `api.jwt_role_claim`: a role's name, or a list of names of which the first known one counts.
The principal's subject is `jwt:<sub>`, so that the audit log tells such callers from API keys.

The keys are fetched when the first such token arrives, not at start (the API starts while the
provider is down), and trusted for `api.jwt_jwks_refresh_seconds`. A `kid` they lack makes them be
fetched again at once (the provider may have added a key), but at most once every
`REFETCH_SECONDS`, so made-up `kid`s cannot make the API hammer the provider. A fetch that fails
keeps the keys fetched before, and is not tried again for `REFETCH_SECONDS`; with no keys at all,
the token is answered 503. An answer larger than `MAX_JWKS_BYTES` is a failed fetch: it is read no
further than that, so a wrong URL or a hostile server cannot fill the API's memory.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from typing import Any

import httpx
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from scheduler_api.tokens import ClaimChecks, jose_reason
from scheduler_domain import Principal, Role
from scheduler_errors import Unauthenticated, Unavailable
from scheduler_foundation import Clock

#: The algorithms of outside tokens; a token naming another goes to `TokenAuthority` (HS256 only).
ALGORITHMS = ("RS256", "ES256")
#: The least time between a fetch of the keys and one more for a `kid` they lack, or after a failure.
REFETCH_SECONDS = 30.0
FETCH_TIMEOUT_SECONDS = 5.0
#: The most of a JWKS answer read: a real key set of a few dozen keys is tens of kilobytes.
MAX_JWKS_BYTES = 1024 * 1024
#: Prefixed to an outside token's `sub` to make the principal's subject.
SUBJECT_PREFIX = "jwt:"
#: The key types the checked algorithms use; any other key in the JWKS is left out.
_KEY_TYPES = ("RSA", "EC")
_ROLES = frozenset(role.value for role in Role)

_log = logging.getLogger(__name__)


def signed_outside(token: str) -> bool:
    """True when the (unchecked) header of `token` names an algorithm of outside tokens."""
    return _header_of(token).get("alg") in ALGORITHMS


class IdentityProviderKeys:
    """The signing keys an identity provider publishes as a JWKS at `url`, fetched when needed."""

    def __init__(
        self,
        *,
        url: str,
        refresh_seconds: float,
        clock: Clock,
        timeout_seconds: float = FETCH_TIMEOUT_SECONDS,
    ) -> None:
        self._url = url
        self._refresh = refresh_seconds
        self._clock = clock
        self._timeout = timeout_seconds
        self._keys: KeySet | None = None
        self._fetched_at = -math.inf
        self._failed_at = -math.inf
        self._failure = ""
        self._fetching = asyncio.Lock()

    async def key_set(self, kid: str) -> KeySet:
        """The keys to check a token signed with the key `kid` against, fetched first when due.

        `Unavailable` when the keys could never be fetched.
        """
        if self._wants_fetch(kid, self._now()):
            async with self._fetching:
                now = self._now()
                if self._wants_fetch(kid, now):  # unless a request waited on here has fetched them
                    await self._fetch(now)
        if self._keys is None:
            raise Unavailable(
                f"the identity provider's keys (api.jwt_jwks_url) could not be fetched: {self._failure}"
            )
        return self._keys

    def _wants_fetch(self, kid: str, now: float) -> bool:
        if now < self._failed_at + REFETCH_SECONDS:
            return False
        if self._keys is None or now >= self._fetched_at + self._refresh:
            return True
        return not _holds(self._keys, kid) and now >= self._fetched_at + REFETCH_SECONDS

    async def _fetch(self, now: float) -> None:
        try:
            self._keys = await self._download()
        except (httpx.HTTPError, JoseError, ValueError, TypeError, KeyError) as exc:
            self._failed_at = now
            self._failure = jose_reason(exc)
            _log.warning("the identity provider's keys could not be fetched: %s", self._failure)
            return
        self._fetched_at = now

    async def _download(self) -> KeySet:
        # A client per fetch: fetches are minutes apart, and no connection is left for anyone to close.
        async with (
            httpx.AsyncClient(timeout=self._timeout) as client,
            client.stream("GET", self._url, headers={"Accept": "application/json"}) as answer,
        ):
            if answer.status_code != httpx.codes.OK:
                raise ValueError(f"the provider answered {answer.status_code}")
            body = await _bounded_body(answer)
        try:
            document = json.loads(body)
        except ValueError:
            raise ValueError("the answer is not JSON") from None
        return _key_set(document)

    def _now(self) -> float:
        return self._clock.now().timestamp()


async def _bounded_body(answer: httpx.Response) -> bytes:
    """The body of `answer`, or `ValueError` as soon as it proves larger than `MAX_JWKS_BYTES`."""
    body = bytearray()
    async for chunk in answer.aiter_bytes():
        body += chunk
        if len(body) > MAX_JWKS_BYTES:
            raise ValueError(f"the answer is larger than {MAX_JWKS_BYTES} bytes")
    return bytes(body)


class OutsideTokens:
    """Turns tokens that an outside identity provider signed into principals."""

    def __init__(
        self, *, keys: IdentityProviderKeys, issuer: str, audience: str, role_claim: str, clock: Clock
    ) -> None:
        self._keys = keys
        self._role_claim = role_claim
        self._checks = ClaimChecks(
            algorithms=ALGORITHMS,
            issuer=issuer,
            audience=audience,
            clock=clock,
            renewal="get a new one from the identity provider",
        )

    async def principal_of(self, token: str) -> Principal:
        """The principal a valid token stands for; `Unauthenticated` saying what is wrong otherwise.

        `Unavailable` when the provider's keys are needed and could not be fetched.
        """
        kid = _header_of(token).get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthenticated("the token names no key (kid) of the identity provider")
        keys = await self._keys.key_set(kid)
        if not _holds(keys, kid):
            raise Unauthenticated("the token's key (kid) is not among the identity provider's keys")
        claims = self._checks.claims_of(token, keys)
        return Principal(subject=f"{SUBJECT_PREFIX}{claims['sub']}", role=self._role_of(claims))

    def _role_of(self, claims: dict[str, Any]) -> Role:
        named = claims.get(self._role_claim)
        for name in named if isinstance(named, list) else [named]:
            if isinstance(name, str) and name in _ROLES:
                return Role(name)
        raise Unauthenticated("the token names no known role")


def _header_of(token: str) -> dict[str, Any]:
    """The protected header of a compact JWS, unchecked; empty when it cannot be read."""
    try:
        return dict(jws.extract_compact(token.encode()).headers())
    except (JoseError, ValueError):
        return {}


def _holds(keys: KeySet, kid: str) -> bool:
    return any(key.kid == kid for key in keys)


def _key_set(document: object) -> KeySet:
    """The RSA and EC keys of a JWKS document."""
    listed = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(listed, list):
        raise ValueError("the answer is not a JWKS (no list of keys)")
    usable = [key for key in listed if isinstance(key, dict) and key.get("kty") in _KEY_TYPES]
    return KeySet.import_key_set({"keys": usable})
