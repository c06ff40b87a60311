"""Alert rules in real processes: a dispatcher tells a webhook that no worker is online, then that one is;
standalone tells a Slack-style webhook."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.cluster import RoleProcess, make_key
from tests.e2e.standalone import running_standalone, wait_for
from tests.worker_fixtures.http_server import RecordingServer, serving

pytestmark = pytest.mark.e2e


def alert_settings(tmp_path: Path, rule: str, channel: str) -> dict[str, str]:
    """The env naming a settings file with `[alerts]` evaluated every 0.2 s, `rule` and `channel`."""
    path = tmp_path / "alerts.toml"
    path.write_text(f"[alerts]\nevaluation_interval_seconds = 0.2\n\n{rule}\n{channel}")
    return {"SCHEDULER_CONFIG": str(path)}


def posted(server: RecordingServer, path: str) -> list[Any]:
    """The JSON bodies POSTed to `path`, in order."""
    return [json.loads(request.body) for request in list(server.received) if request.path == path]


def test_the_leading_dispatcher_tells_a_webhook_that_no_worker_is_online_then_that_one_is(
    cluster_settings: dict[str, str], tmp_path: Path
) -> None:
    with serving() as server:
        rule = (
            '[[alerts.rules]]\nname = "no-workers"\nmetric = "workers_online"\nbelow = 1\n'
            'for_seconds = 1\nseverity = "critical"\nchannels = ["hook"]\n'
        )
        channel = f'[alerts.channels.hook]\nkind = "webhook"\nurl = "{server.url("/alerts/s3cret")}"\n'
        env = {**cluster_settings, **alert_settings(tmp_path, rule, channel)}
        processes = [
            RoleProcess("api", tmp_path, env).start(),
            RoleProcess("dispatcher", tmp_path, env).start(),
        ]
        api, dispatcher = processes
        try:
            [firing] = wait_for(lambda: posted(server, "/alerts/s3cret"), timeout=15, what="the firing alert")
            worker_env = {**env, "SCHEDULER_WORKER__API_KEY": make_key(env, tmp_path, "worker")}
            worker_args = ("--worker-id", "w-alerts", "--api-url", api.url)
            processes.append(RoleProcess("worker", tmp_path, worker_env, args=worker_args).start())
            notices = wait_for(
                lambda: (found := posted(server, "/alerts/s3cret")) and len(found) >= 2 and found,
                timeout=15,
                what="the resolved alert",
            )
        finally:
            for process in reversed(processes):
                process.stop()

    assert [notice["state"] for notice in notices] == ["firing", "resolved"]  # firing told once
    assert {
        key: firing[key] for key in ("rule", "severity", "metric", "value", "threshold", "comparison")
    } == {
        "rule": "no-workers",
        "severity": "critical",
        "metric": "workers_online",
        "value": 0,
        "threshold": 1,
        "comparison": "below",
    }
    assert firing["for_seconds"] == 1
    assert datetime.fromisoformat(firing["at"]) - datetime.fromisoformat(firing["since"]) >= timedelta(
        seconds=1
    )
    assert firing["text"].startswith("FIRING [critical] no-workers: workers_online = 0 (below 1 for 1s")
    resolved = notices[1]
    assert (resolved["value"], resolved["since"]) == (1, firing["since"])
    logs = dispatcher.logs()
    assert '"alert firing"' in logs
    assert "s3cret" not in logs


def test_standalone_evaluates_its_rules_and_tells_slack(tmp_path: Path) -> None:
    with serving() as server:
        rule = (
            '[[alerts.rules]]\nname = "busy"\nmetric = "workers_online"\nabove = 0\n'
            'severity = "info"\nchannels = ["chat"]\n'
        )
        channel = f'[alerts.channels.chat]\nkind = "slack"\nurl = "{server.url("/services/T/B/X")}"\n'
        with running_standalone(tmp_path / "data", alert_settings(tmp_path, rule, channel)):
            [message] = wait_for(
                lambda: posted(server, "/services/T/B/X"), timeout=15, what="the Slack message"
            )

    assert message == {"text": message["text"]}
    assert message["text"].startswith("FIRING [info] busy: workers_online = 1 (above 0 for 0s")
