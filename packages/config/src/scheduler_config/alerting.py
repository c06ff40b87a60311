"""The `[alerts]` section: rules that watch the scheduler's state, and the channels they notify.

A rule fires when its metric stays past its threshold (`above` or `below`) for `for_seconds`,
and resolves when it no longer is; each change is sent once to each of the rule's channels.
No rules: alerting is off and nothing of it is loaded.
"""

from __future__ import annotations

import math
from urllib.parse import urlsplit

from msgspec import Struct, field

from scheduler_errors import InvalidInput

#: What a rule can watch: the names and what each means (the application computes exactly these).
ALERT_METRICS: dict[str, str] = {
    "runs_pending": "runs waiting to be dispatched (those waiting on dependencies included)",
    "runs_queued": "runs published and not yet started by a worker",
    "runs_running": "runs a worker is executing",
    "workers_online": "workers online (registering, draining and offline ones are not counted)",
    "worker_slots_free": "runs the online workers could still take at their last heartbeats",
    "worker_busy_ratio": "busy slots of the online workers over all their slots, 0 to 1 (0 with none)",
    "runs_failed_per_minute": (
        "runs that ended failed or timed_out since the previous evaluation, per minute "
        "(no value at the first evaluation)"
    ),
    "store_readable": "1 when the database answered the evaluation's reads, else 0",
}
SEVERITIES = ("info", "warning", "critical")
CHANNEL_KINDS = ("webhook", "slack", "email")


class AlertRuleConfig(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One rule: `metric` past `above` or `below` (exactly one) for `for_seconds` fires it."""

    name: str
    metric: str
    above: float | None = None
    below: float | None = None
    for_seconds: float = 0.0
    severity: str = "warning"
    channels: tuple[str, ...] = ()


class AlertChannelConfig(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where notifications go: a JSON `webhook`, a Slack incoming webhook (`slack`) or `email`."""

    kind: str
    #: The address notifications are POSTed to (webhook, slack); often a secret in its path.
    url: str = ""
    smtp_host: str = ""
    smtp_port: int = 25
    sender: str = field(default="", name="from")
    to: tuple[str, ...] = ()
    username: str = ""
    password: str = ""
    #: Upgrade the SMTP connection with STARTTLS before logging in and sending (port 587).
    starttls: bool = False
    #: Speak TLS from the first byte (SMTPS, port 465); not with `starttls`.
    implicit_tls: bool = False


class AlertsConfig(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Alert rules, evaluated by the leading dispatcher every `evaluation_interval_seconds`."""

    evaluation_interval_seconds: float = 15.0
    #: The longest one notification may take (connecting included); a slower one counts as failed
    #: and is sent again at the next evaluation.
    notify_timeout_seconds: float = 5.0
    rules: tuple[AlertRuleConfig, ...] = ()
    channels: dict[str, AlertChannelConfig] = {}

    @property
    def enabled(self) -> bool:
        """True when there is a rule to evaluate."""
        return bool(self.rules)


def check_alerts(alerts: AlertsConfig) -> None:
    """`InvalidInput` naming the first bad setting of the `[alerts]` section."""
    for name in ("evaluation_interval_seconds", "notify_timeout_seconds"):
        if not getattr(alerts, name) > 0:  # NaN and inf are refused with every finite setting
            raise InvalidInput.for_field(f"alerts.{name}", "must be positive")
    for channel_name, channel in alerts.channels.items():
        _check_channel(f"alerts.channels.{channel_name}", channel)
    seen: set[str] = set()
    for index, rule in enumerate(alerts.rules):
        where = f"alerts.rules[{index}]"
        _check_rule(where, rule, alerts.channels)
        if rule.name in seen:
            raise InvalidInput.for_field(f"{where}.name", f"another rule is named {rule.name!r}")
        seen.add(rule.name)


def _check_rule(where: str, rule: AlertRuleConfig, channels: dict[str, AlertChannelConfig]) -> None:
    if not rule.name.strip():
        raise InvalidInput.for_field(f"{where}.name", "must not be empty")
    if rule.metric not in ALERT_METRICS:
        known = ", ".join(ALERT_METRICS)
        raise InvalidInput.for_field(f"{where}.metric", f"unknown metric {rule.metric!r}: one of {known}")
    if (rule.above is None) == (rule.below is None):
        raise InvalidInput.for_field(f"{where}.above", "give exactly one of above or below")
    for name in ("above", "below", "for_seconds"):
        value = getattr(rule, name)
        if value is not None and not math.isfinite(value):
            raise InvalidInput.for_field(f"{where}.{name}", "must be a finite number")
    if rule.for_seconds < 0:
        raise InvalidInput.for_field(f"{where}.for_seconds", "must not be negative")
    if rule.severity not in SEVERITIES:
        raise InvalidInput.for_field(f"{where}.severity", f"must be one of {', '.join(SEVERITIES)}")
    if not rule.channels:
        raise InvalidInput.for_field(f"{where}.channels", "must name at least one of alerts.channels")
    if len(set(rule.channels)) < len(rule.channels):
        raise InvalidInput.for_field(f"{where}.channels", "names a channel twice (each would be sent twice)")
    for name in rule.channels:
        if name not in channels:
            defined = ", ".join(channels) or "none"
            raise InvalidInput.for_field(
                f"{where}.channels", f"unknown channel {name!r} (alerts.channels defines: {defined})"
            )


def _check_channel(where: str, channel: AlertChannelConfig) -> None:
    if channel.kind not in CHANNEL_KINDS:
        raise InvalidInput.for_field(f"{where}.kind", f"must be one of {', '.join(CHANNEL_KINDS)}")
    if channel.kind == "email":
        _check_email(where, channel)
        return
    _check_http_url(f"{where}.url", channel.url)
    for name in ("smtp_host", "sender", "to", "username", "password", "starttls", "implicit_tls"):
        if getattr(channel, name):
            shown = "from" if name == "sender" else name
            raise InvalidInput.for_field(f"{where}.{shown}", f"is for email channels, not {channel.kind}")


#: Ports that begin in plain SMTP (relay, submission with STARTTLS): never implicit TLS.
_PLAIN_SMTP_PORTS = (25, 587)


def _check_email(where: str, channel: AlertChannelConfig) -> None:
    if channel.url:
        raise InvalidInput.for_field(f"{where}.url", "is for webhook and slack channels, not email")
    if not channel.smtp_host.strip():
        raise InvalidInput.for_field(f"{where}.smtp_host", "must name the SMTP server")
    if not 1 <= channel.smtp_port <= 65535:
        raise InvalidInput.for_field(f"{where}.smtp_port", "must be between 1 and 65535")
    if "@" not in channel.sender:
        raise InvalidInput.for_field(f"{where}.from", "must be an email address")
    if not channel.to:
        raise InvalidInput.for_field(f"{where}.to", "must list at least one address")
    for address in channel.to:
        if "@" not in address:
            raise InvalidInput.for_field(f"{where}.to", f"{address!r} is not an email address")
    if channel.starttls and channel.implicit_tls:
        raise InvalidInput.for_field(
            f"{where}.implicit_tls", "choose one of starttls (port 587) and implicit_tls (port 465)"
        )
    if channel.implicit_tls and channel.smtp_port in _PLAIN_SMTP_PORTS:
        raise InvalidInput.for_field(
            f"{where}.smtp_port",
            f"port {channel.smtp_port} speaks plain SMTP, not implicit TLS: set smtp_port = 465, "
            "or use starttls = true",
        )
    if channel.password and not channel.username:
        raise InvalidInput.for_field(f"{where}.password", "is set without a username")


def _check_http_url(name: str, url: str) -> None:
    """An `http://` or `https://` URL with a host (never echoed: its path is often the secret)."""
    usage = "give the http:// or https:// address notifications are POSTed to"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port is the check: a non-numeric one raises here
    except ValueError as exc:
        raise InvalidInput.for_field(name, f"not a URL ({exc}): {usage}") from exc
    if parts.scheme.lower() not in ("http", "https") or "://" not in url:
        raise InvalidInput.for_field(name, f"not an http:// or https:// URL: {usage}")
    if not parts.hostname:
        raise InvalidInput.for_field(name, f"not a URL (no host): {usage}")
    if any(char.isspace() or not char.isprintable() for char in url):
        raise InvalidInput.for_field(name, f"not a URL (it holds a space or a control character): {usage}")
