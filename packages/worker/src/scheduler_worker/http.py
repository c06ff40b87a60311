"""The HTTP executor: one request per run, through an httpx client the app owns."""

from __future__ import annotations

import asyncio
import codecs
import time
from collections.abc import Mapping
from typing import Any

import httpx

from scheduler_domain import RunDispatch, RunOutcome, RunStatus
from scheduler_errors import InvalidInput
from scheduler_worker._http_request import HttpRequest

#: The response headers a result keeps; the others are dropped to keep results small.
KEPT_HEADERS = ("content-type", "content-length", "location", "retry-after", "etag", "last-modified")


class HttpExecutor:
    """Sends the request a run describes and reports the response; a non-2xx answer fails the run.

    `job.command` is the URL (http or https). `job.arguments` may carry `method` (default GET),
    `headers`, `params` (the query), `body` (a string sent as is, or a JSON object or array
    sent as JSON), `timeout_seconds` (capped by the run's own timeout) and `follow_redirects`
    (default false); any other argument fails the run as not retryable. The request carries
    `X-Scheduler-Run-Id`, `X-Scheduler-Task-Id` and `X-Scheduler-Attempt`, so the receiver can
    make itself idempotent. The result holds `status_code`, a few `headers`, the `body` as text
    (at most `response_limit_bytes` of it, `body_truncated` saying whether it was cut) and
    `duration_seconds`. Cancelling the awaiting task closes the request.

    The `client` is shared by every run and owned by the caller, who closes it.
    """

    def __init__(self, *, client: httpx.AsyncClient, response_limit_bytes: int = 1024 * 1024) -> None:
        if response_limit_bytes < 0:
            raise InvalidInput.for_field("response_limit_bytes", "must not be negative")
        self._client = client
        self._limit = response_limit_bytes

    @property
    def name(self) -> str:
        """`http`."""
        return "http"

    @staticmethod
    def check_task(command: str, arguments: Mapping[str, Any]) -> None:
        """`InvalidInput` naming what a run would refuse: a URL that is not http(s), an unknown
        or malformed argument (see the class)."""
        HttpRequest.read(command, arguments, run_timeout=1)  # the run's timeout only caps

    async def execute(self, job: RunDispatch) -> RunOutcome:
        """Send the request and wait for the whole (capped) response, or the timeout."""
        try:
            request = HttpRequest.of(job)
            built = request.build(self._client, _identity(job))
        except InvalidInput as exc:
            return RunOutcome(status=RunStatus.FAILED, error_message=exc.detail, retryable=False)
        started = time.monotonic()
        try:
            # httpx's timeout bounds each step (connect, each read); this bounds the whole.
            async with asyncio.timeout(request.timeout_seconds):
                result = await self._exchange(built, request.follow_redirects)
        except TimeoutError:
            return _timed_out(request, "")
        except httpx.TimeoutException as exc:
            return _timed_out(request, f" ({type(exc).__name__})")
        except httpx.HTTPError as exc:
            return RunOutcome(status=RunStatus.FAILED, error_message=_failure(request, exc))
        result["duration_seconds"] = round(time.monotonic() - started, 3)
        return _answered(result)

    async def _exchange(self, request: httpx.Request, follow_redirects: bool) -> dict[str, Any]:
        response = await self._client.send(request, stream=True, follow_redirects=follow_redirects)
        try:
            body, truncated = await _read_capped(response, self._limit)
        finally:
            # Also on cancellation or a cut body: closing an unread response drops its connection.
            await response.aclose()
        return {
            "status_code": response.status_code,
            "headers": {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers},
            "body": _decode(body, response.encoding, final=not truncated),
            "body_truncated": truncated,
        }


def _identity(job: RunDispatch) -> dict[str, str]:
    return {
        "X-Scheduler-Run-Id": str(job.run_id),
        "X-Scheduler-Task-Id": str(job.task_id),
        "X-Scheduler-Attempt": str(job.attempt),
    }


async def _read_capped(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """The first `limit` bytes of the (decompressed) body, and whether there was more."""
    kept = bytearray()
    async for chunk in response.aiter_bytes():
        room = limit - len(kept)
        if len(chunk) > room:
            kept += chunk[:room]
            return bytes(kept), True
        kept += chunk
    return bytes(kept), False


def _decode(body: bytes, encoding: str | None, *, final: bool) -> str:
    """The body as text; a cut body loses its trailing partial character rather than mangling it."""
    try:
        decoder = codecs.getincrementaldecoder(encoding or "utf-8")(errors="replace")
    except LookupError:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    return decoder.decode(body, final=final)


def _answered(result: dict[str, Any]) -> RunOutcome:
    status_code = result["status_code"]
    if 200 <= status_code < 300:
        return RunOutcome(status=RunStatus.SUCCEEDED, result=result)
    return RunOutcome(status=RunStatus.FAILED, result=result, error_message=f"HTTP {status_code}")


def _timed_out(request: HttpRequest, detail: str) -> RunOutcome:
    limit = f"{request.timeout_seconds:g} s"
    return RunOutcome(
        status=RunStatus.TIMED_OUT,
        error_message=f"{request.method} {request.target} timed out after {limit}{detail}",
    )


def _failure(request: HttpRequest, exc: httpx.HTTPError) -> str:
    reason = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect to {request.target}: {reason}"
    return f"{request.method} {request.target} failed: {type(exc).__name__}: {reason}"
