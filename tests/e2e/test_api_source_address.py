"""What the real server tells and believes: the audit log names the address a request came
from, whatever forwarding headers it carries, and answers do not name the server software.

The API is served by uvicorn, which by default believes `X-Forwarded-For` from local clients:
anything able to connect from 127.0.0.1 could then write any source address into the log.
"""

from __future__ import annotations

import pytest

from tests.e2e.standalone import Api

pytestmark = pytest.mark.e2e


def test_a_forwarded_for_header_does_not_change_the_recorded_source(api: Api) -> None:
    forged = {"X-Forwarded-For": "203.0.113.9", "X-Real-IP": "203.0.113.9", "Forwarded": "for=203.0.113.9"}
    created = api.http.post("/api/v1/tasks", json={"name": "forged", "command": "true"}, headers=forged)
    assert created.status_code == 201, created.text

    [entry] = [e for e in api.http.get("/api/v1/audit-log").json()["items"] if e["action"] == "task.create"]

    assert entry["source_ip"] == "127.0.0.1"


def test_answers_do_not_name_the_server_software(api: Api) -> None:
    answer = api.http.get("/api/v1/tasks")

    assert answer.status_code == 200
    assert "server" not in answer.headers
