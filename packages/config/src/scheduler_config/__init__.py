"""Typed settings: defaults, a TOML file, environment variables; read once by the app."""

from scheduler_config.alerting import (
    ALERT_METRICS,
    AlertChannelConfig,
    AlertRuleConfig,
    AlertsConfig,
)
from scheduler_config.loading import CONFIG_FILE_VAR, load_config
from scheduler_config.reloading import changed_settings
from scheduler_config.secrets import SECRET_KEY_VAR, encrypt, new_key
from scheduler_config.settings import (
    ApiConfig,
    AppConfig,
    CircuitBreakerConfig,
    DatabaseConfig,
    DispatcherConfig,
    LoggingConfig,
    MessageQueueConfig,
    TracingConfig,
    WorkerConfig,
    redact_url,
)

__all__ = [
    "ALERT_METRICS",
    "CONFIG_FILE_VAR",
    "SECRET_KEY_VAR",
    "AlertChannelConfig",
    "AlertRuleConfig",
    "AlertsConfig",
    "ApiConfig",
    "AppConfig",
    "CircuitBreakerConfig",
    "DatabaseConfig",
    "DispatcherConfig",
    "LoggingConfig",
    "MessageQueueConfig",
    "TracingConfig",
    "WorkerConfig",
    "changed_settings",
    "encrypt",
    "load_config",
    "new_key",
    "redact_url",
]
