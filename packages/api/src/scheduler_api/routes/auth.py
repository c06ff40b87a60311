"""`/api/v1/auth/token`: an API key exchanged for a short-lived JWT."""

from __future__ import annotations

from litestar import Controller, post
from litestar.di import NamedDependency

from scheduler_api.audit import audited
from scheduler_api.auth import exchanges_api_key, principal_of
from scheduler_api.openapi import problems
from scheduler_api.requests import ApiRequest
from scheduler_api.schemas import TokenOut
from scheduler_api.tokens import TokenAuthority
from scheduler_errors import Unauthenticated

Tokens = NamedDependency[TokenAuthority]


class AuthRoutes(Controller):
    """Tokens."""

    path = "/auth"
    tags = ["auth"]

    @post(
        "/token",
        status_code=200,
        opt=exchanges_api_key() | audited("token.issue", response_detail={"expires_in": "expires_in"}),
        responses=problems(),
    )
    async def issue_token(self, request: ApiRequest, tokens: Tokens) -> TokenOut:
        """A JWT standing for the API key sent (any role); a token cannot be exchanged again.

        The token carries the key's role until it expires: revoking the key does not end it sooner.
        """
        principal = principal_of(request)
        if principal is None:  # the guard authenticated the key; this only keeps types honest
            raise Unauthenticated("send an API key")
        issued = tokens.issue(principal)
        return TokenOut(access_token=issued.token, expires_in=issued.expires_in)
