"""Alert evaluation: read the metrics, move each rule's state, notify its channels of each change.

The leading dispatcher evaluates (see `scheduler_dispatcher.Dispatcher`); the rules' states and
the notifications not yet delivered live in its memory only. A new leader starts from scratch:
a rule still past its threshold fires again once held for its `for_seconds`, and a rule that
stopped being past it in between resolves without telling anyone.

Each change is queued for each of the rule's channels and sent at once; a send that fails (or
outlasts `notify_timeout`, or the channel's own longer bound: see
`AlertChannel.longest_send_seconds`) is logged and tried again at the next evaluation, the
channel's later notifications waiting behind it so that a receiver sees them in order. The
channels are sent to concurrently, so a dead one delays the others by nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Mapping, Sequence
from datetime import datetime

from scheduler_application.alert_metrics import AlertMetrics
from scheduler_application.alert_rules import AlertRule, RuleChange, RuleState
from scheduler_errors import SchedulerError
from scheduler_foundation import AlertChannel, AlertNotice, Clock

logger = logging.getLogger(__name__)

#: Notifications kept per channel while it fails; past this the oldest is dropped (and logged).
MAX_UNSENT = 100


class AlertEvaluator:
    """Evaluates `rules` against `metrics` and notifies `channels` (by name) of firing and resolution."""

    def __init__(
        self,
        *,
        rules: Sequence[AlertRule],
        channels: Mapping[str, AlertChannel],
        metrics: AlertMetrics,
        clock: Clock,
        notify_timeout: float = 5.0,
    ) -> None:
        _check_channels(rules, channels)
        self.rules = tuple(rules)
        self._channels = dict(channels)
        self._metrics = metrics
        self._clock = clock
        self._notify_timeout = notify_timeout
        self._watched = frozenset(rule.metric for rule in self.rules)
        self._states: dict[str, RuleState] = {}
        self._unsent: dict[str, deque[AlertNotice]] = {name: deque() for name in self._channels}

    def reconfigure(
        self, *, rules: Sequence[AlertRule], channels: Mapping[str, AlertChannel], notify_timeout: float
    ) -> None:
        """Evaluate `rules` and notify `channels` from now on (the settings were reloaded).

        A rule that keeps its name and its condition (metric, comparison, threshold and
        `for_seconds`) keeps its state, whatever else changed (severity, channels): a firing one
        is not told again. Any other rule starts afresh, as under a new leader. Notifications not
        yet sent stay queued for the channels that keep their name, and are dropped for the others.
        """
        _check_channels(rules, channels)
        conditions = {_condition(rule) for rule in rules}
        kept = {rule.name for rule in self.rules if _condition(rule) in conditions}
        self._states = {name: state for name, state in self._states.items() if name in kept}
        self._unsent = {name: self._unsent.get(name, deque()) for name in channels}
        self.rules = tuple(rules)
        self._channels = dict(channels)
        self._notify_timeout = notify_timeout
        self._watched = frozenset(rule.metric for rule in self.rules)

    @property
    def channels(self) -> Mapping[str, AlertChannel]:
        """The channels notified, by name."""
        return self._channels

    def state_of(self, rule: str) -> RuleState:
        """Where the rule named `rule` stands now."""
        return self._states.get(rule, RuleState())

    def unsent(self, channel: str) -> list[AlertNotice]:
        """The notifications waiting for `channel`, oldest first."""
        return list(self._unsent[channel])

    async def evaluate(self) -> list[AlertNotice]:
        """One evaluation: returns the changes it found (each queued to its rule's channels), once
        every channel with something to send has been tried."""
        now = self._clock.now()
        values = await self._metrics.read(self._watched)
        changes: list[AlertNotice] = []
        for rule in self.rules:
            state, change = self.state_of(rule.name).observe(rule, values.get(rule.metric), now)
            self._states[rule.name] = state
            if change is not None:
                notice = _notice(rule, change, now=now)
                changes.append(notice)
                self._queue(rule, notice)
        await self._deliver()
        return changes

    def reset(self) -> None:
        """Forget every state and unsent notification (this instance stopped leading)."""
        self._states.clear()
        for unsent in self._unsent.values():
            unsent.clear()
        self._metrics.forget()

    def _queue(self, rule: AlertRule, notice: AlertNotice) -> None:
        fields = _fields(notice)
        if notice.state == "firing":
            logger.warning("alert firing", extra=fields | {"value": notice.value})
        else:
            logger.info("alert resolved", extra=fields | {"value": notice.value})
        for channel in rule.channels:
            unsent = self._unsent[channel]
            if len(unsent) >= MAX_UNSENT:
                dropped = unsent.popleft()
                logger.warning(
                    "alert notification dropped: too many unsent", extra=_sending(dropped, channel)
                )
            unsent.append(notice)

    async def _deliver(self) -> None:
        waiting = [name for name, unsent in self._unsent.items() if unsent]
        await asyncio.gather(*(self._deliver_to(name) for name in waiting))

    async def _deliver_to(self, name: str) -> None:
        channel, unsent = self._channels[name], self._unsent[name]
        bound = channel.longest_send_seconds or self._notify_timeout
        while unsent:
            notice = unsent[0]
            try:
                async with asyncio.timeout(bound):
                    await channel.send(notice)
            except TimeoutError:
                self._failed(notice, channel, f"no answer within {bound:g}s")
                return
            except SchedulerError as exc:
                self._failed(notice, channel, str(exc))
                return
            except Exception as exc:  # a library's own error: its text may hold a URL's secret path
                self._failed(notice, channel, f"unexpected {type(exc).__name__}")
                return
            unsent.popleft()
            logger.info("alert notification sent", extra=_sending(notice, name) | {"kind": channel.kind})

    def _failed(self, notice: AlertNotice, channel: AlertChannel, error: str) -> None:
        extra = _sending(notice, channel.name) | {"kind": channel.kind, "error": error}
        logger.warning("alert notification failed: sent again at the next evaluation", extra=extra)


def _condition(rule: AlertRule) -> tuple[str, str, str, float, float]:
    return (rule.name, rule.metric, rule.comparison, rule.threshold, rule.for_seconds)


def _check_channels(rules: Sequence[AlertRule], channels: Mapping[str, AlertChannel]) -> None:
    for rule in rules:
        unknown = set(rule.channels) - channels.keys()
        if unknown:
            raise ValueError(f"alert rule {rule.name!r} names unknown channels {sorted(unknown)}")


def _notice(rule: AlertRule, change: RuleChange, *, now: datetime) -> AlertNotice:
    return AlertNotice(
        rule=rule.name,
        state=change.state,
        severity=rule.severity,
        metric=rule.metric,
        value=change.value,
        threshold=rule.threshold,
        comparison=rule.comparison,
        since=change.since,
        for_seconds=rule.for_seconds,
        at=now,
    )


def _fields(notice: AlertNotice) -> dict[str, object]:
    return {
        "rule": notice.rule,
        "severity": notice.severity,
        "metric": notice.metric,
        "threshold": notice.threshold,
        "comparison": notice.comparison,
    }


def _sending(notice: AlertNotice, channel: str) -> dict[str, object]:
    return {"rule": notice.rule, "state": notice.state, "channel": channel}
