"""JWTs: an API key exchanged for a short-lived bearer token, and such tokens checked.

A token is HS256-signed with the API's secret and carries the key's principal: `sub` (the
subject the audit log records, the same as the key's), `role`, `permissions` (what the role
grants, for the client's information; the role decides), `iss`, `aud`, `iat`, `exp` and a random
`jti`. A presented token is checked for its signature (HS256 only: `none` and every other
algorithm are refused), its expiry against the scheduler's clock, its issuer and its audience.

A token is not looked up anywhere, which is its point: revoking the key it came from does not
end it before its `exp` (`api.jwt_ttl_seconds`, 15 minutes by default).
"""

from __future__ import annotations

import secrets
from typing import Any

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import KeyFlexible, OctKey
from msgspec import Struct

from scheduler_domain import Principal, Role
from scheduler_errors import Unauthenticated
from scheduler_foundation import Clock

ALGORITHM = "HS256"
#: Tokens checked lately, remembered with their principal and expiry (a check costs about 55 us
#: of CPU, a look-up here about 1 us); the oldest is forgotten first.
CHECKED_TOKENS = 1024
#: The least secret length accepted: HS256 wants a key of at least 256 bits.
MIN_SECRET_LENGTH = 32


class IssuedToken(Struct, frozen=True, kw_only=True):
    """A token just signed, and how many seconds it is valid."""

    token: str
    expires_in: int


class TokenAuthority:
    """Signs tokens for principals and turns presented tokens back into principals."""

    def __init__(self, *, secret: str, ttl_seconds: int, audience: str, issuer: str, clock: Clock) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(f"a JWT secret needs at least {MIN_SECRET_LENGTH} characters")
        self._key = OctKey.import_key(secret.encode())
        self._ttl = ttl_seconds
        self._audience = audience
        self._issuer = issuer
        self._clock = clock
        self._checked: dict[str, tuple[Principal, int]] = {}
        self._checks = ClaimChecks(
            algorithms=(ALGORITHM,),
            issuer=issuer,
            audience=audience,
            clock=clock,
            renewal="exchange an API key for a new one",
        )

    @staticmethod
    def random_secret() -> str:
        """A secret drawn at random: tokens signed with it are checked by the same process only."""
        return secrets.token_urlsafe(MIN_SECRET_LENGTH)

    def issue(self, principal: Principal) -> IssuedToken:
        """A token standing for `principal` until `ttl_seconds` from now."""
        now = self._now()
        claims: dict[str, Any] = {
            "sub": principal.subject,
            "role": principal.role.value,
            "permissions": sorted(permission.value for permission in principal.role.permissions),
            "iss": self._issuer,
            "aud": self._audience,
            "iat": now,
            "exp": now + self._ttl,
            "jti": secrets.token_hex(16),
        }
        token = jwt.encode({"alg": ALGORITHM}, claims, self._key, algorithms=[ALGORITHM])
        return IssuedToken(token=token, expires_in=self._ttl)

    def principal_of(self, token: str) -> Principal:
        """The principal a valid token stands for; `Unauthenticated` saying what is wrong otherwise.

        A token checked before is not checked again until its expiry, which is compared with the
        clock on every use.
        """
        checked = self._checked.get(token)
        if checked is not None and self._now() < checked[1]:
            return checked[0]
        principal, expiry = self._check(token)
        self._checked.pop(token, None)
        while len(self._checked) >= CHECKED_TOKENS:
            del self._checked[next(iter(self._checked))]
        self._checked[token] = (principal, expiry)
        return principal

    def _check(self, token: str) -> tuple[Principal, int]:
        claims = self._checks.claims_of(token, self._key)
        try:
            principal = Principal(subject=str(claims["sub"]), role=Role(str(claims.get("role", ""))))
        except ValueError:
            raise Unauthenticated("the token names no known role") from None
        return principal, int(claims["exp"])

    def _now(self) -> int:
        return int(self._clock.now().timestamp())


class ClaimChecks:
    """What every JWT here must pass: a signature by one of `algorithms`, then `iss`, `aud`, `sub`
    and `exp`, the expiry judged by `clock`. `renewal` says, when a token has expired, where to
    get a new one."""

    def __init__(
        self, *, algorithms: tuple[str, ...], issuer: str, audience: str, clock: Clock, renewal: str
    ) -> None:
        self._algorithms = list(algorithms)
        self._renewal = renewal
        self._clock = clock
        self._registry = jwt.JWTClaimsRegistry(
            now=self._now,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            sub={"essential": True},
            exp={"essential": True},
        )

    def claims_of(self, token: str, key: KeyFlexible) -> dict[str, Any]:
        """The claims of a token that passes; `Unauthenticated` saying what is wrong otherwise."""
        try:
            claims = jwt.decode(token, key, algorithms=self._algorithms).claims
            self._registry.validate(claims)
        except ExpiredTokenError:
            raise Unauthenticated(f"the token has expired: {self._renewal}") from None
        except (JoseError, ValueError) as exc:
            raise Unauthenticated(f"the token is not valid here ({jose_reason(exc)})") from None
        return claims

    def _now(self) -> int:
        return int(self._clock.now().timestamp())


def looks_like_a_token(credential: str) -> bool:
    """True for a compact JWS (`header.payload.signature`, the header a JSON object), not an API key."""
    return credential.startswith("eyJ") and credential.count(".") == 2


def jose_reason(exc: Exception) -> str:
    """What a failed JOSE step says went wrong, in a few words."""
    if isinstance(exc, JoseError):
        return exc.description or exc.error
    return str(exc) or type(exc).__name__
