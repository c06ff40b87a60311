"""The alert evaluation of a dispatcher, built from `[alerts]` at start and again on each settings
reload: its rules, and channels over one HTTP client that lives as long as the process. Without
rules there is none, and no adapter loads."""

from __future__ import annotations

import operator
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

from scheduler_application import AlertEvaluator, AlertMetrics, AlertRule
from scheduler_config import AlertChannelConfig, AlertRuleConfig, AlertsConfig, AppConfig
from scheduler_foundation import AlertChannel, Clock
from scheduler_foundation.alerting import Comparison

if TYPE_CHECKING:
    import httpx

    from scheduler_app.reloading import SettingsReload
    from scheduler_dispatcher import Dispatcher


class LiveAlerts:
    """The dispatcher's alert evaluator as `[alerts]` says now (`evaluator`: None without rules)."""

    def __init__(self, metrics: AlertMetrics, clock: Clock) -> None:
        self._metrics = metrics
        self._clock = clock
        self._client: httpx.AsyncClient | None = None
        self.evaluator: AlertEvaluator | None = None

    def apply(self, alerts: AlertsConfig) -> AlertEvaluator | None:
        """Evaluate `alerts` from now on; returns the evaluator (None without rules).

        Rules that stay as they were keep their state (see `AlertEvaluator.reconfigure`): a
        reload that changes one threshold does not tell again of the others that fire.
        """
        if not alerts.enabled:
            self.evaluator = None
            return None
        timeout = alerts.notify_timeout_seconds
        channels = {
            name: alert_channel(name, settings, client=self._http, timeout=timeout)
            for name, settings in alerts.channels.items()
        }
        rules = [alert_rule(rule) for rule in alerts.rules]
        if self.evaluator is None:
            self.evaluator = AlertEvaluator(
                rules=rules,
                channels=channels,
                metrics=self._metrics,
                clock=self._clock,
                notify_timeout=timeout,
            )
        else:
            self.evaluator.reconfigure(rules=rules, channels=channels, notify_timeout=timeout)
        return self.evaluator

    async def aclose(self) -> None:
        """Close the HTTP client of the channels, if one was opened."""
        if self._client is not None:
            await self._client.aclose()

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            import httpx

            # each channel bounds its own requests (`timeout`); the client only pools connections
            self._client = httpx.AsyncClient(headers={"User-Agent": "scheduler-alerts"})
        return self._client


async def live_alerts(config: AppConfig, metrics: AlertMetrics, clock: Clock) -> AsyncIterator[LiveAlerts]:
    """The resource of a dispatcher's alerts, at the settings it starts with."""
    live = LiveAlerts(metrics, clock)
    live.apply(config.alerts)
    try:
        yield live
    finally:
        await live.aclose()


#: The evaluator of a `LiveAlerts`, as a dispatcher starts with it.
current_evaluator: Callable[[LiveAlerts], AlertEvaluator | None] = operator.attrgetter("evaluator")


def reload_alerts(reload: SettingsReload, live: LiveAlerts, dispatcher: Dispatcher) -> None:
    """Have `reload` put changed `[alerts]` settings in force in `dispatcher` at once."""

    def apply(config: AppConfig) -> None:
        dispatcher.use_alerts(live.apply(config.alerts), config.alerts.evaluation_interval_seconds)

    reload.live("alerts", apply=apply)


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
    name: str, settings: AlertChannelConfig, *, client: Callable[[], httpx.AsyncClient], timeout: float
) -> AlertChannel:
    """The adapter of one `[alerts.channels.<name>]` entry; `client` gives the HTTP client of the
    webhook and Slack channels (asked for those only)."""
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
    return kind(name=name, url=settings.url, client=client(), timeout=timeout)
