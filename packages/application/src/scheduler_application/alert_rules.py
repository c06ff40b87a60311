"""Alert rules and the state each one is in.

A rule is `inactive` while its metric is within bounds; `pending` from the first evaluation that
finds it past the threshold; `firing` once it has stayed past it for `for_seconds` (at once with
0). Back within bounds, a pending rule falls back to inactive silently, and a firing one
resolves. Only the two changes worth telling, to firing and to resolved, are reported: a metric
that flaps for less than `for_seconds` never fires, and a firing rule is told once, not at each
evaluation. An evaluation without a value (the store did not answer) changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from msgspec import Struct

from scheduler_foundation.alerting import AlertState, Comparison


class RulePhase(StrEnum):
    """Where a rule stands between evaluations."""

    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"


class AlertRule(Struct, frozen=True, kw_only=True):
    """`metric` `comparison` `threshold` held for `for_seconds` fires the rule."""

    name: str
    metric: str
    comparison: Comparison
    threshold: float
    for_seconds: float = 0.0
    severity: str = "warning"
    channels: tuple[str, ...] = ()

    def breached(self, value: float) -> bool:
        """True when `value` is past the threshold (strictly)."""
        return value > self.threshold if self.comparison == "above" else value < self.threshold


class RuleChange(Struct, frozen=True, kw_only=True):
    """A change worth telling: the rule started `firing`, or `resolved`."""

    state: AlertState
    value: float
    """The value that made the change."""
    since: datetime
    """Since when the metric has been (for a resolution: had been) past the threshold."""


class RuleState(Struct, frozen=True, kw_only=True):
    """A rule's phase, and since when its metric has been past the threshold (None: it is not)."""

    phase: RulePhase = RulePhase.INACTIVE
    since: datetime | None = None

    def observe(
        self, rule: AlertRule, value: float | None, now: datetime
    ) -> tuple[RuleState, RuleChange | None]:
        """The state after an evaluation found `value` at `now`, and the change to tell, if any."""
        if value is None:
            return self, None
        if not rule.breached(value):
            if self.phase is RulePhase.FIRING and self.since is not None:
                return RuleState(), RuleChange(state="resolved", value=value, since=self.since)
            return RuleState(), None
        if self.phase is RulePhase.FIRING:
            return self, None
        since = self.since if self.since is not None else now
        if (now - since).total_seconds() >= rule.for_seconds:
            firing = RuleChange(state="firing", value=value, since=since)
            return RuleState(phase=RulePhase.FIRING, since=since), firing
        return RuleState(phase=RulePhase.PENDING, since=since), None
