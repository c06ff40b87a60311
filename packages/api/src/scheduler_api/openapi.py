"""The OpenAPI 3.1 document: served at `/schema/openapi.json`, with the API-key schemes declared."""

from __future__ import annotations

from http import HTTPStatus

from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.spec import Components, SecurityRequirement, SecurityScheme

from scheduler_api.auth import API_KEY_HEADER
from scheduler_api.problems import PROBLEM_MEDIA_TYPE, Problem

API_KEY_SCHEME = "ApiKeyHeader"
BEARER_SCHEME = "BearerKey"

#: Either credential is accepted on the protected routes.
SECURITY: list[SecurityRequirement] = [{API_KEY_SCHEME: []}, {BEARER_SCHEME: []}]

_COMMON_PROBLEMS = (400, 401, 403, 413, 422, 429, 500, 503)


def openapi_config() -> OpenAPIConfig:
    """The OpenAPI settings of the app."""
    return OpenAPIConfig(
        title="Scheduler API",
        version="1.0.0",
        description=(
            "Tasks, runs, workers, API keys, tokens and the audit log of the distributed task scheduler."
        ),
        path="/schema",
        components=Components(
            security_schemes={
                API_KEY_SCHEME: SecurityScheme(
                    type="apiKey",
                    name=API_KEY_HEADER,
                    security_scheme_in="header",
                    description="An API key.",
                ),
                BEARER_SCHEME: SecurityScheme(
                    type="http",
                    scheme="bearer",
                    bearer_format="JWT",
                    description="A JWT from `POST /api/v1/auth/token`, or an API key sent as a bearer token.",
                ),
            }
        ),
    )


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI responses documenting `statuses`, plus the ones any protected route may answer."""
    return {
        status: ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM_MEDIA_TYPE,
            description=HTTPStatus(status).phrase,
            generate_examples=False,
        )
        for status in sorted({*_COMMON_PROBLEMS, *statuses})
    }
