"""Alert channels: a JSON webhook and a Slack incoming webhook over HTTP, and email over SMTP."""

from scheduler_infrastructure.alerts.mail import EmailChannel
from scheduler_infrastructure.alerts.webhooks import SlackChannel, WebhookChannel, webhook_body

__all__ = ["EmailChannel", "SlackChannel", "WebhookChannel", "webhook_body"]
