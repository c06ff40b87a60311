"""Who is calling, and may they: credentials, the principal they stand for, route permissions.

Every route under `/api/v1` declares the permission it needs with `opt=requires(...)` (the token
exchange, which any API key may call, with `opt=exchanges_api_key()`); one guard authenticates the
caller on each request and checks that permission. A credential is an API key, a JWT that
`POST /api/v1/auth/token` issued (HS256, see `scheduler_api.tokens`), or, when an identity provider
is configured, a JWT it signed (RS256 or ES256, see `scheduler_api.outside_tokens`): the token's
header decides which checks it, and each checker admits its own algorithms only. `AccessControl`
remembers keys for a few seconds: an expired key fails at once, a revoked key at once in this
process, and in others as soon as they hear of it (on PostgreSQL, at once; see docs/api.md). A
route that forgets to declare its permission is refused when the app is built.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import Headers
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from scheduler_api.outside_tokens import OutsideTokens, signed_outside
from scheduler_api.tokens import TokenAuthority, looks_like_a_token
from scheduler_application import AccessControl
from scheduler_domain import Permission, Principal
from scheduler_errors import PermissionDenied, Unauthenticated

PERMISSION_OPT = "permission"
KEY_EXCHANGE_OPT = "key_exchange"
PRINCIPAL_STATE = "principal"
API_KEY_HEADER = "X-API-Key"
_BEARER = "bearer"


def requires(permission: Permission) -> dict[str, Any]:
    """The route option that says which permission a route needs."""
    return {PERMISSION_OPT: permission}


def exchanges_api_key() -> dict[str, Any]:
    """The route option of the token exchange: any API key may call it, and only an API key."""
    return {KEY_EXCHANGE_OPT: True}


def permission_of(handler: BaseRouteHandler) -> Permission | None:
    """The permission a route handler declared, if any."""
    permission = handler.opt.get(PERMISSION_OPT)
    return permission if isinstance(permission, Permission) else None


def credential_of(headers: Headers) -> str | None:
    """The secret in `X-API-Key`, else in `Authorization: Bearer`; None when neither is given.

    A bearer value is a JWT when it looks like one (`looks_like_a_token`), else an API key.
    """
    if key := headers.get(API_KEY_HEADER, "").strip():
        return key
    scheme, _, value = headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() == _BEARER and value.strip():
        return value.strip()
    return None


def principal_guard(
    access: AccessControl, tokens: TokenAuthority, outside: OutsideTokens | None = None
) -> Guard:
    """A guard that authenticates every request and checks the route's permission.

    Without `outside`, tokens of an outside identity provider are refused like any foreign token.
    """

    async def authorize(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        if _answers_options_only(handler):
            return
        if handler.opt.get(KEY_EXCHANGE_OPT):
            connection.state[PRINCIPAL_STATE] = await _authenticate_key(access, connection.headers)
            return
        permission = permission_of(handler)
        if permission is None:
            raise PermissionDenied(f"route {handler.handler_name} declares no permission")
        principal = await _authenticate(access, tokens, outside, connection.headers)
        if not principal.may(permission):
            raise PermissionDenied(f"role {principal.role} lacks the {permission} permission")
        connection.state[PRINCIPAL_STATE] = principal

    return authorize


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    """The principal the guard authenticated on this connection; None before or without one."""
    principal = connection.state.get(PRINCIPAL_STATE)
    return principal if isinstance(principal, Principal) else None


def sees_secrets(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """True when the caller may read a task's secrets as written: when it may write tasks. Others
    (a `readonly` key) get them masked (`scheduler_domain.masking`): they could not use them."""
    principal = principal_of(connection)
    return principal is not None and principal.may(Permission.TASK_WRITE)


def undeclared_routes(handlers: Iterable[BaseRouteHandler]) -> list[str]:
    """Names of the handlers among `handlers` that declare no permission (OPTIONS needs none)."""
    return sorted(
        handler.handler_name
        for handler in handlers
        if permission_of(handler) is None
        and not handler.opt.get(KEY_EXCHANGE_OPT)
        and not _answers_options_only(handler)
    )


def _answers_options_only(handler: BaseRouteHandler) -> bool:
    """Litestar's automatic OPTIONS handler: it only lists the allowed methods."""
    return getattr(handler, "http_methods", None) == {"OPTIONS"}


async def _authenticate(
    access: AccessControl, tokens: TokenAuthority, outside: OutsideTokens | None, headers: Headers
) -> Principal:
    secret = _required_credential(headers)
    if not looks_like_a_token(secret):
        return await access.authenticate(secret)
    if outside is not None and signed_outside(secret):
        return await outside.principal_of(secret)
    return tokens.principal_of(secret)  # HS256 only: refuses `none`, HS512, RS256 without a JWKS...


async def _authenticate_key(access: AccessControl, headers: Headers) -> Principal:
    secret = _required_credential(headers)
    if looks_like_a_token(secret):
        raise Unauthenticated("a token cannot be exchanged for another: send the API key it came from")
    return await access.authenticate(secret)


def _required_credential(headers: Headers) -> str:
    secret = credential_of(headers)
    if secret is None:
        raise Unauthenticated(
            f"send an API key in {API_KEY_HEADER}, or a key or token as Authorization: Bearer <credential>"
        )
    return secret
