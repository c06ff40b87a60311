"""Typed settings: defaults, a TOML file, environment variables; read once by the app."""

from scheduler_config.loading import CONFIG_FILE_VAR, load_config
from scheduler_config.settings import (
    ApiConfig,
    AppConfig,
    DatabaseConfig,
    DispatcherConfig,
    LoggingConfig,
    MessageQueueConfig,
    WorkerConfig,
)

__all__ = [
    "CONFIG_FILE_VAR",
    "ApiConfig",
    "AppConfig",
    "DatabaseConfig",
    "DispatcherConfig",
    "LoggingConfig",
    "MessageQueueConfig",
    "WorkerConfig",
    "load_config",
]
