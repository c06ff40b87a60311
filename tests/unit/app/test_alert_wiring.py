"""`[alerts]` wired into a dispatcher: rules and channels built from the settings, none without rules."""

from __future__ import annotations

from pathlib import Path

from scheduler_app.alerting import alert_rule, live_alerts
from scheduler_app.containers.processes import StandaloneContainer
from scheduler_application import AlertEvaluator, AlertMetrics, AlertRule, SystemOverview
from scheduler_config import AlertRuleConfig, AppConfig, load_config
from scheduler_infrastructure.alerts import EmailChannel, SlackChannel, WebhookChannel
from scheduler_testing import FakeClock, FakeTaskRepository, FakeTaskRunRepository, FakeWorkerRepository

SETTINGS = """
[alerts]
notify_timeout_seconds = 2

[[alerts.rules]]
name = "slow"
metric = "worker_busy_ratio"
above = 0.9
for_seconds = 300
severity = "critical"
channels = ["hook", "chat", "mail"]

[alerts.channels.hook]
kind = "webhook"
url = "http://127.0.0.1:9/hook"

[alerts.channels.chat]
kind = "slack"
url = "https://hooks.slack.example/services/T/B/X"

[alerts.channels.mail]
kind = "email"
smtp_host = "127.0.0.1"
from = "scheduler@example.org"
to = ["ops@example.org"]
"""


def metrics() -> AlertMetrics:
    runs = FakeTaskRunRepository()
    overview = SystemOverview(tasks=FakeTaskRepository(runs), runs=runs, workers=FakeWorkerRepository())
    return AlertMetrics(overview=overview, runs=runs, clock=FakeClock())


def test_a_rule_is_read_from_its_settings() -> None:
    settings = AlertRuleConfig(
        name="slow",
        metric="worker_busy_ratio",
        above=0.9,
        for_seconds=300,
        severity="critical",
        channels=("ops",),
    )

    assert alert_rule(settings) == AlertRule(
        name="slow",
        metric="worker_busy_ratio",
        comparison="above",
        threshold=0.9,
        for_seconds=300,
        severity="critical",
        channels=("ops",),
    )
    assert alert_rule(AlertRuleConfig(name="x", metric="runs_pending", below=0)).comparison == "below"


async def test_without_rules_there_is_no_evaluator() -> None:
    made = live_alerts(AppConfig(), metrics(), FakeClock())

    assert (await anext(made)).evaluator is None


async def test_each_channel_is_built_as_its_kind(tmp_path: Path) -> None:
    file = tmp_path / "settings.toml"
    file.write_text(SETTINGS)
    config = load_config({"SCHEDULER_CONFIG": str(file)})
    made = live_alerts(config, metrics(), FakeClock())

    evaluator = (await anext(made)).evaluator

    assert isinstance(evaluator, AlertEvaluator)
    assert [rule.name for rule in evaluator.rules] == ["slow"]
    channels = evaluator.channels
    assert {name: type(channel) for name, channel in channels.items()} == {
        "hook": WebhookChannel,
        "chat": SlackChannel,
        "mail": EmailChannel,
    }
    await made.aclose()


async def test_the_dispatcher_is_given_the_evaluator_and_its_interval(tmp_path: Path) -> None:
    file = tmp_path / "settings.toml"
    file.write_text(SETTINGS + "\n")
    config = load_config(
        {"SCHEDULER_CONFIG": str(file), "SCHEDULER_ALERTS__EVALUATION_INTERVAL_SECONDS": "7"},
        overrides={"data_dir": str(tmp_path / "data")},
    )
    container = StandaloneContainer(config=config)
    try:
        dispatcher = await container.roles.dispatcher()
        assert isinstance(dispatcher._alerts, AlertEvaluator)
        assert dispatcher._alert_interval == 7
    finally:
        await container.shutdown_resources()
