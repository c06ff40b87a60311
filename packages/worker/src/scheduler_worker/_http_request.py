"""What an HTTP run asks for, read and checked from its dispatch before anything is sent."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from scheduler_domain import RunDispatch
from scheduler_errors import InvalidInput

_KNOWN_ARGUMENTS = frozenset({"method", "headers", "body", "params", "timeout_seconds", "follow_redirects"})
_METHOD = re.compile(r"[A-Za-z]+")
_SCALARS = (str, int, float, bool)


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """A request as the task describes it: the dispatch's `command` is the URL."""

    method: str
    url: httpx.URL
    headers: dict[str, str]
    params: dict[str, Any]
    body: str | dict[str, Any] | list[Any] | None
    timeout_seconds: float
    follow_redirects: bool

    @classmethod
    def of(cls, job: RunDispatch) -> HttpRequest:
        """The request `job` describes; `InvalidInput` naming the first bad argument."""
        return cls.read(job.command, job.arguments, run_timeout=job.timeout_seconds)

    @classmethod
    def read(cls, command: str, arguments: Mapping[str, Any], *, run_timeout: int) -> HttpRequest:
        """The request a task's `command` (the URL) and `arguments` describe, its timeout capped
        by `run_timeout`; `InvalidInput` naming the first bad argument."""
        unknown = sorted(set(arguments) - _KNOWN_ARGUMENTS)
        if unknown:
            known = ", ".join(sorted(_KNOWN_ARGUMENTS))
            raise InvalidInput.for_field("arguments", f"unknown argument {unknown[0]!r} (known: {known})")
        return cls(
            method=_method(arguments.get("method", "GET")),
            url=_url(command),
            headers=_headers(arguments.get("headers", {})),
            params=_params(arguments.get("params", {})),
            body=_body(arguments.get("body")),
            timeout_seconds=_timeout(arguments.get("timeout_seconds"), run_timeout),
            follow_redirects=_flag("follow_redirects", arguments.get("follow_redirects", False)),
        )

    @property
    def target(self) -> str:
        """The URL without credentials or query, safe to put in a message."""
        return f"{self.url.scheme}://{self.url.netloc.decode('ascii', 'replace')}{self.url.path}"

    def build(self, client: httpx.AsyncClient, identity: Mapping[str, str]) -> httpx.Request:
        """The httpx request, `identity` headers added last; `InvalidInput` if httpx refuses it."""
        body: dict[str, Any] = {"content": self.body} if isinstance(self.body, str) else {"json": self.body}
        try:
            return client.build_request(
                self.method,
                self.url,
                headers={**self.headers, **identity},
                params=self.params,
                timeout=self.timeout_seconds,
                **body,
            )
        except (httpx.InvalidURL, TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
            raise InvalidInput.for_field("arguments", f"cannot build the request: {exc}") from exc


def _method(value: object) -> str:
    if not isinstance(value, str) or not _METHOD.fullmatch(value):
        raise InvalidInput.for_field("arguments.method", "must be an HTTP method such as GET or POST")
    return value.upper()


def _url(command: str) -> httpx.URL:
    try:
        url = httpx.URL(command.strip())
    except httpx.InvalidURL as exc:
        raise InvalidInput.for_field("command", f"{command!r} is not a URL: {exc}") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise InvalidInput.for_field("command", f"{command!r} is not an http:// or https:// URL")
    return url


def _headers(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(key, str) and isinstance(item, str) for key, item in value.items()
    ):
        raise InvalidInput.for_field("arguments.headers", "must be a mapping of header names to strings")
    return dict(value)


def _params(value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not all(
        isinstance(key, str) and _is_param_value(item) for key, item in value.items()
    ):
        raise InvalidInput.for_field(
            "arguments.params", "must be a mapping of names to strings, numbers, or lists of them"
        )
    return dict(value)


def _is_param_value(value: object) -> bool:
    if isinstance(value, list):
        return all(isinstance(item, _SCALARS) for item in value)
    return isinstance(value, _SCALARS)


def _body(value: object) -> str | dict[str, Any] | list[Any] | None:
    if value is None or isinstance(value, str | dict | list):
        return value
    raise InvalidInput.for_field("arguments.body", "must be a string (sent as is) or a JSON object or array")


def _timeout(value: object, run_timeout: int) -> float:
    if value is None:
        return float(run_timeout)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InvalidInput.for_field("arguments.timeout_seconds", "must be a positive number of seconds")
    # The run's own timeout still bounds the request: the dispatcher enforces it regardless.
    return min(float(value), float(run_timeout))


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput.for_field(f"arguments.{name}", "must be true or false")
    return value
