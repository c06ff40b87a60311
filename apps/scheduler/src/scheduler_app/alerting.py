"""The alert evaluation of a dispatcher, built from `[alerts]`: its rules, and channels over one
HTTP client that lives as long as the process. Without rules there is none, and no adapter loads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from scheduler_application import AlertEvaluator, AlertMetrics, AlertRule
from scheduler_config import AlertChannelConfig, AlertRuleConfig, AppConfig
from scheduler_foundation import AlertChannel, Clock
from scheduler_foundation.alerting import Comparison

if TYPE_CHECKING:
    import httpx


async def alert_evaluator(
    config: AppConfig, metrics: AlertMetrics, clock: Clock
) -> AsyncIterator[AlertEvaluator | None]:
    """The evaluator of the configured rules, or None when there are none."""
    alerts = config.alerts
    if not alerts.enabled:
        yield None
        return
    import httpx

    timeout = alerts.notify_timeout_seconds
    async with httpx.AsyncClient(timeout=timeout, headers={"User-Agent": "scheduler-alerts"}) as client:
        channels = {
            name: alert_channel(name, settings, client=client, timeout=timeout)
            for name, settings in alerts.channels.items()
        }
        yield AlertEvaluator(
            rules=[alert_rule(rule) for rule in alerts.rules],
            channels=channels,
            metrics=metrics,
            clock=clock,
            notify_timeout=timeout,
        )


def alert_rule(settings: AlertRuleConfig) -> AlertRule:
    """The rule of one `[[alerts.rules]]` entry (which holds exactly one of `above` and `below`)."""
    comparison: Comparison
    if settings.above is not None:
        comparison, threshold = "above", settings.above
    elif settings.below is not None:
        comparison, threshold = "below", settings.below
    else:
        raise ValueError(f"alert rule {settings.name!r} has neither above nor below")
    return AlertRule(
        name=settings.name,
        metric=settings.metric,
        comparison=comparison,
        threshold=threshold,
        for_seconds=settings.for_seconds,
        severity=settings.severity,
        channels=settings.channels,
    )


def alert_channel(
    name: str, settings: AlertChannelConfig, *, client: httpx.AsyncClient, timeout: float
) -> AlertChannel:
    """The adapter of one `[alerts.channels.<name>]` entry."""
    from scheduler_infrastructure.alerts import EmailChannel, SlackChannel, WebhookChannel

    if settings.kind == "email":
        return EmailChannel(
            name=name,
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.sender,
            recipients=settings.to,
            username=settings.username,
            password=settings.password,
            starttls=settings.starttls,
            implicit_tls=settings.implicit_tls,
            timeout=timeout,
        )
    kind = SlackChannel if settings.kind == "slack" else WebhookChannel
    return kind(name=name, url=settings.url, client=client, timeout=timeout)
