"""The HTTP executor, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from scheduler_domain import RunStatus
from scheduler_errors import InvalidInput
from scheduler_testing import a_dispatch
from scheduler_worker import HttpExecutor
from tests.worker_fixtures.http_server import RecordingServer, serving, unused_port


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    with serving() as running:
        yield running


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as shared:
        yield shared


@pytest.fixture
def http(client: httpx.AsyncClient) -> HttpExecutor:
    return HttpExecutor(client=client)


def a_request(url: str, **arguments: object):
    return a_dispatch(url, executor="http", arguments=arguments, run_id=41, task_id=7, attempt=3)


async def test_a_get_succeeds_with_status_headers_body_and_duration(
    http: HttpExecutor, server: RecordingServer
) -> None:
    outcome = await http.execute(a_request(server.url("/hello")))

    assert outcome.status is RunStatus.SUCCEEDED
    assert outcome.error_message is None
    assert outcome.result is not None
    assert outcome.result["status_code"] == 200
    assert json.loads(outcome.result["body"]) == {"method": "GET", "path": "/hello", "body": ""}
    assert outcome.result["body_truncated"] is False
    assert outcome.result["headers"]["content-type"] == "application/json"
    assert outcome.result["headers"]["etag"] == '"v1"'
    assert "x-ignored" not in outcome.result["headers"]
    assert outcome.result["duration_seconds"] >= 0


async def test_the_request_carries_the_run_identity(http: HttpExecutor, server: RecordingServer) -> None:
    await http.execute(a_request(server.url("/hello")))

    (received,) = server.received
    assert received.headers["X-Scheduler-Run-Id"] == "41"
    assert received.headers["X-Scheduler-Task-Id"] == "7"
    assert received.headers["X-Scheduler-Attempt"] == "3"


async def test_method_headers_params_and_a_text_body_are_sent(
    http: HttpExecutor, server: RecordingServer
) -> None:
    job = a_request(
        server.url("/things"),
        method="put",
        headers={"X-Token": "t0k", "Content-Type": "text/plain"},
        params={"page": 2, "tag": ["a", "b"]},
        body="plain words",
    )

    outcome = await http.execute(job)

    assert outcome.status is RunStatus.SUCCEEDED
    (received,) = server.received
    assert received.method == "PUT"
    assert received.query == {"page": ["2"], "tag": ["a", "b"]}
    assert received.headers["X-Token"] == "t0k"
    assert received.headers["Content-Type"] == "text/plain"
    assert received.body == b"plain words"


async def test_a_json_body_is_sent_as_json(http: HttpExecutor, server: RecordingServer) -> None:
    await http.execute(
        a_request(server.url("/things"), method="POST", body={"name": "report", "ids": [1, 2]})
    )

    (received,) = server.received
    assert received.headers["Content-Type"] == "application/json"
    assert json.loads(received.body) == {"name": "report", "ids": [1, 2]}


async def test_a_non_2xx_answer_fails_the_run_and_keeps_the_response(
    http: HttpExecutor, server: RecordingServer
) -> None:
    outcome = await http.execute(a_request(server.url("/status/503")))

    assert outcome.status is RunStatus.FAILED
    assert outcome.error_message == "HTTP 503"
    assert outcome.retryable is True
    assert outcome.result is not None
    assert outcome.result["status_code"] == 503
    assert outcome.result["body"] == "not this time"


async def test_a_redirect_is_an_answer_unless_it_is_followed(
    http: HttpExecutor, server: RecordingServer
) -> None:
    answered = await http.execute(a_request(server.url("/redirect")))
    followed = await http.execute(a_request(server.url("/redirect"), follow_redirects=True))

    assert answered.status is RunStatus.FAILED
    assert answered.error_message == "HTTP 302"
    assert answered.result is not None
    assert answered.result["headers"]["location"] == "/hello"
    assert followed.status is RunStatus.SUCCEEDED
    assert [received.path for received in server.received] == ["/redirect", "/redirect", "/hello"]


async def test_the_body_is_kept_up_to_the_limit(client: httpx.AsyncClient, server: RecordingServer) -> None:
    http = HttpExecutor(client=client, response_limit_bytes=101)

    cut = await http.execute(a_request(server.url("/bytes/5000")))
    whole = await http.execute(a_request(server.url("/bytes/50")))

    assert cut.status is RunStatus.SUCCEEDED
    assert cut.result is not None
    # 101 bytes of two-byte characters: the half character at the cut is dropped, not mangled.
    assert cut.result["body"] == "é" * 50
    assert cut.result["body_truncated"] is True
    assert whole.result is not None
    assert whole.result["body"] == "é" * 50
    assert whole.result["body_truncated"] is False


async def test_a_request_past_its_own_timeout_is_timed_out(
    http: HttpExecutor, server: RecordingServer
) -> None:
    started = time.monotonic()

    outcome = await http.execute(a_request(server.url("/slow"), timeout_seconds=0.3))

    assert time.monotonic() - started < 3
    assert outcome.status is RunStatus.TIMED_OUT
    assert outcome.error_message is not None
    assert outcome.error_message.startswith(f"GET {server.url('/slow')} timed out after 0.3 s")


async def test_the_run_timeout_caps_the_request_timeout(http: HttpExecutor, server: RecordingServer) -> None:
    started = time.monotonic()

    outcome = await http.execute(
        a_dispatch(server.url("/slow"), executor="http", timeout_seconds=1, arguments={"timeout_seconds": 60})
    )

    assert time.monotonic() - started < 4
    assert outcome.status is RunStatus.TIMED_OUT
    assert outcome.error_message is not None
    assert "timed out after 1 s" in outcome.error_message


async def test_a_refused_connection_fails_the_run_saying_so(http: HttpExecutor) -> None:
    url = f"http://127.0.0.1:{unused_port()}/hook"

    outcome = await http.execute(a_request(url))

    assert outcome.status is RunStatus.FAILED
    assert outcome.retryable is True
    assert outcome.error_message is not None
    assert outcome.error_message.startswith(f"cannot connect to {url}: ")


async def test_cancelling_the_run_closes_the_request(
    http: HttpExecutor, server: RecordingServer, wait_until
) -> None:
    running = asyncio.create_task(http.execute(a_request(server.url("/slow"))))
    await wait_until(lambda: len(server.received) == 1)

    running.cancel()

    with pytest.raises(asyncio.CancelledError):
        await running
    assert await asyncio.to_thread(server.hung_up.wait, 5)


async def test_credentials_and_query_stay_out_of_error_messages(http: HttpExecutor) -> None:
    outcome = await http.execute(a_request(f"http://user:secret@127.0.0.1:{unused_port()}/x?token=abc"))

    assert outcome.error_message is not None
    assert "secret" not in outcome.error_message
    assert "abc" not in outcome.error_message


@pytest.mark.parametrize(
    ("command", "arguments", "complaint"),
    [
        ("ftp://example.org/file", {}, "is not an http:// or https:// URL"),
        ("not a url at all", {}, "is not an http:// or https:// URL"),
        ("http://example.org", {"method": "GET /"}, "must be an HTTP method"),
        ("http://example.org", {"headers": {"X-N": 1}}, "must be a mapping of header names to strings"),
        ("http://example.org", {"headers": ["X-N"]}, "must be a mapping of header names to strings"),
        ("http://example.org", {"params": {"q": {"nested": 1}}}, "must be a mapping of names to"),
        ("http://example.org", {"body": 12}, "must be a string (sent as is) or a JSON object or array"),
        ("http://example.org", {"timeout_seconds": 0}, "must be a positive number of seconds"),
        ("http://example.org", {"timeout_seconds": True}, "must be a positive number of seconds"),
        ("http://example.org", {"follow_redirects": "yes"}, "must be true or false"),
        ("http://example.org", {"header": {}}, "unknown argument 'header'"),
    ],
)
async def test_bad_arguments_fail_the_run_for_good(
    http: HttpExecutor, command: str, arguments: dict[str, object], complaint: str
) -> None:
    outcome = await http.execute(a_dispatch(command, executor="http", arguments=arguments))

    assert outcome.status is RunStatus.FAILED
    assert outcome.retryable is False
    assert outcome.error_message is not None
    assert complaint in outcome.error_message


async def test_a_negative_response_limit_is_refused(client: httpx.AsyncClient) -> None:
    with pytest.raises(InvalidInput):
        HttpExecutor(client=client, response_limit_bytes=-1)


async def test_the_executor_is_named_http(http: HttpExecutor) -> None:
    assert http.name == "http"
