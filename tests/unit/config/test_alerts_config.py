"""The `[alerts]` section: read from TOML (encrypted values too), every mistake named by its field."""

from __future__ import annotations

from pathlib import Path

import pytest

from scheduler_config import ALERT_METRICS, AlertsConfig, encrypt, load_config, new_key
from scheduler_errors import InvalidInput

CHANNELS = """
[alerts.channels.hook]
kind = "webhook"
url = "https://alerts.example/hook/s3cret"

[alerts.channels.chat]
kind = "slack"
url = "https://hooks.slack.example/services/T0/B0/s3cret"

[alerts.channels.mail]
kind = "email"
smtp_host = "smtp.example"
smtp_port = 587
from = "scheduler@example.org"
to = ["ops@example.org", "oncall@example.org"]
username = "scheduler"
password = "mail-s3cret"
starttls = true
"""
RULE = """
[[alerts.rules]]
name = "no-workers"
metric = "workers_online"
below = 1
for_seconds = 60
severity = "critical"
channels = ["hook", "mail"]
"""


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> AlertsConfig:
    file = tmp_path / "settings.toml"
    file.write_text(text)
    return load_config({"SCHEDULER_CONFIG": str(file), **(env or {})}).alerts


def refusal(tmp_path: Path, text: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as refused:
        load(tmp_path, text)
    return refused.value


def test_without_rules_alerting_is_off() -> None:
    alerts = load_config({}).alerts

    assert not alerts.enabled
    assert (alerts.rules, alerts.channels, alerts.evaluation_interval_seconds) == ((), {}, 15)


def test_rules_and_channels_are_read(tmp_path: Path) -> None:
    alerts = load(tmp_path, "[alerts]\nevaluation_interval_seconds = 5\n" + RULE + CHANNELS)

    assert alerts.enabled
    [rule] = alerts.rules
    assert (rule.name, rule.metric, rule.below, rule.above, rule.for_seconds) == (
        "no-workers",
        "workers_online",
        1,
        None,
        60,
    )
    assert (rule.severity, rule.channels) == ("critical", ("hook", "mail"))
    mail = alerts.channels["mail"]
    assert (mail.kind, mail.smtp_host, mail.smtp_port, mail.sender, mail.to, mail.starttls) == (
        "email",
        "smtp.example",
        587,
        "scheduler@example.org",
        ("ops@example.org", "oncall@example.org"),
        True,
    )
    assert alerts.evaluation_interval_seconds == 5


def test_secrets_of_channels_may_be_encrypted(tmp_path: Path) -> None:
    key = new_key()
    password, url = encrypt("mail-s3cret", key), encrypt("https://hooks.slack.example/services/T/B/X", key)
    text = (RULE + CHANNELS).replace('"mail-s3cret"', f'"{password}"')
    text = text.replace('"https://hooks.slack.example/services/T0/B0/s3cret"', f'"{url}"')

    alerts = load(tmp_path, text, {"SCHEDULER_SECRET_KEY": key})

    assert alerts.channels["mail"].password == "mail-s3cret"
    assert alerts.channels["chat"].url == "https://hooks.slack.example/services/T/B/X"
    with pytest.raises(InvalidInput, match=r"alerts\.channels\.(mail\.password|chat\.url): is encrypted"):
        load(tmp_path, text)


def test_a_channel_setting_can_come_from_the_environment(tmp_path: Path) -> None:
    alerts = load(tmp_path, RULE + CHANNELS, {"SCHEDULER_ALERTS__CHANNELS__MAIL__PASSWORD": "from-env"})

    assert alerts.channels["mail"].password == "from-env"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (("workers_online", "workers_up"), "alerts.rules[0].metric", "unknown metric 'workers_up'"),
        (('["hook", "mail"]', '["hook", "pager"]'), "alerts.rules[0].channels", "unknown channel 'pager'"),
        (('["hook", "mail"]', "[]"), "alerts.rules[0].channels", "at least one"),
        (('["hook", "mail"]', '["hook", "hook"]'), "alerts.rules[0].channels", "names a channel twice"),
        (("below = 1", "below = 1\nabove = 5"), "alerts.rules[0].above", "exactly one of above or below"),
        (("below = 1", ""), "alerts.rules[0].above", "exactly one of above or below"),
        (('"critical"', '"page"'), "alerts.rules[0].severity", "info, warning, critical"),
        (("for_seconds = 60", "for_seconds = -1"), "alerts.rules[0].for_seconds", "negative"),
        (("below = 1", "below = nan"), "alerts.rules[0].below", "finite"),
        (('name = "no-workers"', 'name = " "'), "alerts.rules[0].name", "empty"),
        (
            ('"https://alerts.example/hook/s3cret"', '"alerts.example/hook"'),
            "alerts.channels.hook.url",
            "http://",
        ),
        (
            ('"https://alerts.example/hook/s3cret"', '"ftp://alerts.example/s3cret"'),
            "alerts.channels.hook.url",
            "http://",
        ),
        (
            ('"https://alerts.example/hook/s3cret"', '"https://alerts.example/hook s3cret"'),
            "alerts.channels.hook.url",
            "a space",
        ),
        (
            ('"https://alerts.example/hook/s3cret"', '"https:///s3cret"'),
            "alerts.channels.hook.url",
            "no host",
        ),
        (
            ('"https://alerts.example/hook/s3cret"', '"http://alerts.example:port/s3cret"'),
            "alerts.channels.hook.url",
            "not a URL",
        ),
        (('kind = "webhook"', 'kind = "pager"'), "alerts.channels.hook.kind", "webhook, slack, email"),
        (("smtp_port = 587", "smtp_port = 0"), "alerts.channels.mail.smtp_port", "between 1 and 65535"),
        (('"smtp.example"', '""'), "alerts.channels.mail.smtp_host", "SMTP server"),
        (
            ('from = "scheduler@example.org"', 'from = "scheduler"'),
            "alerts.channels.mail.from",
            "email address",
        ),
        (('["ops@example.org", "oncall@example.org"]', "[]"), "alerts.channels.mail.to", "at least one"),
        (('username = "scheduler"', ""), "alerts.channels.mail.password", "without a username"),
        (
            ("starttls = true", "starttls = true\nimplicit_tls = true"),
            "alerts.channels.mail.implicit_tls",
            "one of",
        ),
        (("starttls = true", "implicit_tls = true"), "alerts.channels.mail.smtp_port", "smtp_port = 465"),
        (('kind = "webhook"', 'kind = "webhook"\nstarttls = true'), "alerts.channels.hook.starttls", "email"),
    ],
)
def test_a_mistake_is_refused_naming_its_field(
    tmp_path: Path, change: tuple[str, str], field: str, message: str
) -> None:
    text = (RULE + CHANNELS).replace(*change)

    refused = refusal(tmp_path, text)

    assert refused.errors[0].field == field
    assert message in refused.detail
    assert "s3cret" not in refused.detail


def test_two_rules_may_not_share_a_name(tmp_path: Path) -> None:
    refused = refusal(tmp_path, RULE + RULE + CHANNELS)

    assert refused.errors[0].field == "alerts.rules[1].name"


def test_a_setting_of_another_kind_of_channel_is_refused(tmp_path: Path) -> None:
    text = RULE + CHANNELS.replace('kind = "webhook"', 'kind = "webhook"\nto = ["a@example.org"]')

    assert refusal(tmp_path, text).errors[0].field == "alerts.channels.hook.to"


def test_the_intervals_must_be_positive(tmp_path: Path) -> None:
    text = "[alerts]\nevaluation_interval_seconds = 0\n" + RULE + CHANNELS

    assert refusal(tmp_path, text).errors[0].field == "alerts.evaluation_interval_seconds"


def test_an_unknown_key_in_a_rule_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="threshold"):
        load(tmp_path, RULE.replace("below = 1", "threshold = 1") + CHANNELS)


def test_the_documented_metrics_are_few_and_named() -> None:
    assert set(ALERT_METRICS) == {
        "runs_pending",
        "runs_queued",
        "runs_running",
        "workers_online",
        "worker_slots_free",
        "worker_busy_ratio",
        "runs_failed_per_minute",
        "store_readable",
    }
