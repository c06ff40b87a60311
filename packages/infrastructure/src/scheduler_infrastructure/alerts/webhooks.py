"""Alert channels that POST to an HTTP endpoint: a JSON webhook, and Slack's incoming webhooks.

The endpoint's address often carries its credential in the path (Slack's does), so errors name
only its scheme, host and port.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from scheduler_errors import Unavailable
from scheduler_foundation import AlertNotice


def webhook_body(notice: AlertNotice) -> dict[str, Any]:
    """What a webhook receives: the notice's fields, times in ISO 8601, and its `text`."""
    return {
        "rule": notice.rule,
        "state": notice.state,
        "severity": notice.severity,
        "metric": notice.metric,
        "value": notice.value,
        "threshold": notice.threshold,
        "comparison": notice.comparison,
        "since": notice.since.isoformat(),
        "for_seconds": notice.for_seconds,
        "at": notice.at.isoformat(),
        "text": notice.text,
    }


class _PostingChannel:
    """What both channels share: POST a JSON body to one URL, 2xx within the timeout or `Unavailable`."""

    kind = ""
    #: A POST cut short is safe to cut: the caller's timeout bounds it.
    longest_send_seconds = None

    def __init__(self, *, name: str, url: str, client: httpx.AsyncClient, timeout: float = 5.0) -> None:
        self.name = name
        self._url = url
        self._client = client
        self._timeout = timeout

    async def _post(self, body: dict[str, Any]) -> None:
        where = f"{self.kind} channel {self.name!r} at {_origin(self._url)}"
        try:
            answer = await self._client.post(self._url, json=body, timeout=self._timeout)
        except httpx.TimeoutException as exc:
            raise Unavailable(f"{where} did not answer within {self._timeout:g}s") from exc
        except httpx.HTTPError as exc:
            raise Unavailable(f"{where} cannot be reached ({type(exc).__name__})") from exc
        if not answer.is_success:
            raise Unavailable(f"{where} answered {answer.status_code} {answer.reason_phrase}")


class WebhookChannel(_PostingChannel):
    """POSTs each notice as a JSON object (`webhook_body`); any 2xx answer delivers it."""

    kind = "webhook"

    async def send(self, notice: AlertNotice) -> None:
        """See `AlertChannel.send`."""
        await self._post(webhook_body(notice))


class SlackChannel(_PostingChannel):
    """POSTs `{"text": ...}` to a Slack incoming webhook (or anything that reads that format)."""

    kind = "slack"

    async def send(self, notice: AlertNotice) -> None:
        """See `AlertChannel.send`."""
        await self._post({"text": notice.text})


def _origin(url: str) -> str:
    """`scheme://host[:port]` of `url`: no user, password, path or query."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"
