"""Every error the API answers, as an RFC 9457 problem (`application/problem+json`), mapped here only.

* malformed JSON (bytes that are not UTF-8 and nesting too deep included, see `requests`), or a
  missing body where one is required -> 400
* a well-formed body or query with a wrong type, a missing or an unknown field -> 422 naming it
  in `errors: [{field, message}]` (`field` is a dotted path such as `arguments.env` or `tags[0]`)
* `InvalidInput` -> 422 with its field errors; `NotFound` -> 404; `Conflict` -> 409;
  `Unauthenticated` -> 401 with `WWW-Authenticate`; `PermissionDenied` -> 403; `Unavailable` -> 503
  (with `Retry-After` when it says how long to wait: an open circuit breaker)
* a body larger than the configured limit -> 413; an unknown route -> 404 (so is a non-integer
  task or run id: such a path matches no route); a method the route lacks -> 405
* anything else -> 500 with a generic detail; the exception is logged, never sent.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap

from scheduler_errors import (
    Conflict,
    FieldError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    SchedulerError,
    Unauthenticated,
    Unavailable,
)

PROBLEM_MEDIA_TYPE = "application/problem+json"
#: The status code says it all, so the RFC's default type; the title is the status phrase.
PROBLEM_TYPE = "about:blank"
WWW_AUTHENTICATE = 'Bearer realm="scheduler", ApiKey realm="scheduler", header="X-API-Key"'

_log = logging.getLogger(__name__)

_STATUS_OF_KIND: dict[type[SchedulerError], int] = {
    InvalidInput: 422,
    NotFound: 404,
    Conflict: 409,
    Unauthenticated: 401,
    PermissionDenied: 403,
    Unavailable: 503,
}
_NAMED_FIELD = re.compile(r"(?:missing required field|unknown field) `([^`]+)`")
_BODY_KEY = "data"
_ROUTING_DETAILS = {
    404: "nothing at {path}",
    405: "{method} is not allowed on {path}",
    413: "the request body is larger than this server accepts",
}


class FieldProblem(msgspec.Struct, kw_only=True):
    """One offending field of a request."""

    field: str
    message: str


class Problem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An RFC 9457 problem detail; `errors` only for validation problems."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldProblem] | None = None


def problem_response(
    request: Request[Any, Any, Any],
    status: int,
    detail: str,
    *,
    errors: list[FieldProblem] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response[Problem]:
    """A problem-details response for `request`."""
    problem = Problem(
        type=PROBLEM_TYPE,
        status=status,
        title=HTTPStatus(status).phrase,
        detail=detail,
        instance=request.url.path,
        errors=errors,
    )
    return Response(problem, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def scheduler_error_to_problem(request: Request[Any, Any, Any], exc: SchedulerError) -> Response[Problem]:
    """Map an error kind of the scheduler to its status."""
    status = next((code for kind, code in _STATUS_OF_KIND.items() if isinstance(exc, kind)), None)
    if status is None:
        return unexpected_error_to_problem(request, exc)
    errors = _field_problems(exc.errors) if isinstance(exc, InvalidInput) else None
    return problem_response(request, status, exc.detail, errors=errors, headers=_headers_of(exc, status))


def http_error_to_problem(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Problem]:
    """Map Litestar's own errors (routing, body parsing, size limit) to problems."""
    if isinstance(exc, ValidationException):
        return _validation_problem(request, exc)
    if exc.status_code >= 500:
        return unexpected_error_to_problem(request, exc)
    detail = _ROUTING_DETAILS.get(exc.status_code, "{detail}").format(
        detail=exc.detail, method=request.method, path=request.url.path
    )
    return problem_response(request, exc.status_code, detail, headers=exc.headers)


def unexpected_error_to_problem(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    """Log a failure nobody planned for and answer a generic 500."""
    _log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(request, 500, "an unexpected error occurred; it has been logged")


def exception_handlers() -> ExceptionHandlersMap:
    """The handlers to install on the app."""
    return {
        SchedulerError: scheduler_error_to_problem,
        HTTPException: http_error_to_problem,
        Exception: unexpected_error_to_problem,
    }


def _headers_of(exc: SchedulerError, status: int) -> dict[str, str] | None:
    if status == 401:
        return {"WWW-Authenticate": WWW_AUTHENTICATE}
    if isinstance(exc, Unavailable) and exc.retry_after is not None:
        return {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}  # whole seconds, at least 1
    return None


def _field_problems(errors: tuple[FieldError, ...]) -> list[FieldProblem]:
    return [FieldProblem(field=error.field, message=error.message) for error in errors]


def _validation_problem(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Problem]:
    if _body_missing(exc):
        return problem_response(request, 400, "a JSON request body is required")
    errors = [_field_problem(entry) for entry in _entries(exc.extra)]
    detail = "; ".join(f"{error.field}: {error.message}" for error in errors) or exc.detail
    return problem_response(request, 422, detail, errors=errors)


def _body_missing(exc: ValidationException) -> bool:
    cause = exc.__cause__
    return (
        isinstance(cause, msgspec.ValidationError)
        and str(cause) == f"Object missing required field `{_BODY_KEY}`"
    )


def _entries(extra: object) -> list[Mapping[str, Any]]:
    if isinstance(extra, list):
        return [entry for entry in extra if isinstance(entry, Mapping)]
    return []


def _field_problem(entry: Mapping[str, Any]) -> FieldProblem:
    """`{key: "inner", message: "Object missing required field `a`"}` -> field `inner.a`."""
    message = str(entry.get("message", "invalid value"))
    key = str(entry.get("key", ""))
    parts = [] if key in ("", _BODY_KEY) else [key]
    named = _NAMED_FIELD.search(message)
    if named:
        parts.append(named.group(1))
    return FieldProblem(field=".".join(parts) or "body", message=message)
