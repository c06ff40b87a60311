"""Where alert notifications go: the port the alert evaluation sends through, and what it sends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

AlertState = Literal["firing", "resolved"]
Comparison = Literal["above", "below"]


@dataclass(frozen=True, kw_only=True, slots=True)
class AlertNotice:
    """One change of a rule: it started firing, or it resolved."""

    rule: str
    state: AlertState
    severity: str
    metric: str
    value: float
    """The metric's value at the evaluation that made the change."""
    threshold: float
    comparison: Comparison
    since: datetime
    """When the metric first went past the threshold (for a resolution too: since when it was)."""
    for_seconds: float
    at: datetime
    """The evaluation that made the change."""

    @property
    def text(self) -> str:
        """One line for people: `FIRING [critical] no-workers: workers_online = 0 (below 1 for 60s ...)`."""
        value, threshold = _number(self.value), _number(self.threshold)
        held = f"{self.comparison} {threshold} for {_number(self.for_seconds)}s"
        since = self.since.isoformat(timespec="seconds")
        if self.state == "firing":
            detail = f"{self.metric} = {value} ({held}, since {since})"
        else:
            detail = f"{self.metric} = {value}, no longer {self.comparison} {threshold} (since {since})"
        return f"{self.state.upper()} [{self.severity}] {self.rule}: {detail}"


class AlertChannel(Protocol):
    """A destination of notifications (a webhook, a Slack channel, a mailbox)."""

    @property
    def name(self) -> str:
        """The channel's name in the settings, for logs."""
        ...

    @property
    def kind(self) -> str:
        """`webhook`, `slack` or `email`."""
        ...

    @property
    def longest_send_seconds(self) -> float | None:
        """The longest a send can take by the channel's own timeouts, when it must not be cut
        short (a send in a thread goes on when its caller stops waiting, and a mail cut short
        may still arrive: sent again, it would arrive twice); None: the caller bounds it."""
        ...

    async def send(self, notice: AlertNotice) -> None:
        """Deliver `notice` within the channel's timeout; `Unavailable` when it was not taken.

        The error's message never holds a secret of the channel (a URL's path, a password).
        """
        ...


def _number(value: float) -> str:
    return f"{value:g}"
