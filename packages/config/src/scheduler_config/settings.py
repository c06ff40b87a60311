"""Typed settings, one frozen struct per section."""

from __future__ import annotations

import math
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from msgspec import Struct, structs

from scheduler_errors import InvalidInput

SQLITE_PREFIX = "sqlite:///"


class DatabaseConfig(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where the state lives: `sqlite:///path/to/file.db` (embedded) or `postgresql://...`."""

    url: str = ""
    pool_min_size: int = 1
    pool_max_size: int = 10
    connect_timeout_seconds: float = 5.0
    statement_timeout_seconds: float = 30.0

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded SQLite store."""
        return self.url.startswith(SQLITE_PREFIX)

    @property
    def sqlite_path(self) -> Path:
        """The SQLite file of a `sqlite:///` URL."""
        if not self.is_sqlite:
            raise InvalidInput.for_field("database.url", f"{self.url!r} is not a sqlite:/// URL")
        return Path(self.url.removeprefix(SQLITE_PREFIX))


class MessageQueueConfig(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The broker: `memory://` (in-process), `redis://...` or `amqp://...`."""

    url: str = "memory://"
    prefetch: int = 16
    namespace: str = ""
    """A prefix for every stream or queue name, so that several schedulers can share a broker."""

    @property
    def is_in_process(self) -> bool:
        """True for the in-process queue, which only one process can use."""
        return self.url.startswith("memory://")


class ApiConfig(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The REST API server."""

    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 1024 * 1024
    metrics_public: bool = True
    #: How long an API process trusts an API key it has read: a key revoked or expired through
    #: another process stops working here within this. 0: the store is read on every request.
    key_cache_seconds: float = 5.0
    #: How long a request line and headers may take to arrive, from the request's first byte (from
    #: the connection's opening, for its first request); a slower head is answered 408.
    request_head_timeout_seconds: float = 10.0
    #: Connections open at once; one more is answered 503. Keep it under the process's open-files
    #: limit (`ulimit -n`), which the database and log files share.
    max_connections: int = 1000


class DispatcherConfig(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The scheduling loop."""

    scan_interval_seconds: float = 0.5
    batch_size: int = 200
    misfire_grace_seconds: float = 60.0
    timeout_grace_seconds: float = 30.0
    requeue_after_seconds: float = 300.0
    sweep_interval_seconds: float = 5.0
    lease_seconds: float = 10.0
    worker_timeout_seconds: float = 30.0


class WorkerConfig(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A worker process (or the worker inside `standalone`)."""

    worker_id: str = ""
    task_types: tuple[str, ...] = ("shell", "http", "python", "custom")
    concurrency: int = 4
    #: How many processes run Python tasks; 0: as many as `concurrency`. Fewer lets many short
    #: runs be in hand (and share round trips) without a process each; a run waits for a free one.
    python_processes: int = 0
    output_limit_bytes: int = 1024 * 1024
    kill_grace_seconds: float = 5.0
    drain_grace_seconds: float = 10.0
    api_url: str = "http://127.0.0.1:8080"
    api_key: str = ""
    heartbeat_interval_seconds: float = 5.0


class LoggingConfig(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Structured logs on stderr."""

    level: str = "INFO"
    format: str = "json"


class AppConfig(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Every setting of a scheduler process."""

    data_dir: str = ".scheduler"
    admin_api_key: str = ""
    database: DatabaseConfig = DatabaseConfig()
    queue: MessageQueueConfig = MessageQueueConfig()
    api: ApiConfig = ApiConfig()
    dispatcher: DispatcherConfig = DispatcherConfig()
    worker: WorkerConfig = WorkerConfig()
    logging: LoggingConfig = LoggingConfig()

    def __post_init__(self) -> None:
        _check(self)

    @property
    def database_url(self) -> str:
        """The configured database URL, defaulting to a SQLite file in `data_dir`."""
        return self.database.url or f"{SQLITE_PREFIX}{Path(self.data_dir) / 'scheduler.db'}"

    @property
    def sqlite_path(self) -> Path:
        """The SQLite file of the embedded store (`InvalidInput` when the URL is not SQLite)."""
        return DatabaseConfig(url=self.database_url).sqlite_path

    @property
    def is_embedded(self) -> bool:
        """True when storage or queue can only serve one process (SQLite, in-process queue)."""
        return self.database_url.startswith(SQLITE_PREFIX) or self.queue.is_in_process


def redact_url(url: str) -> str:
    """`url` with its password, if any, replaced by `***` (for logs and messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


_POSITIVE_DISPATCHER_SECONDS = (
    "scan_interval_seconds",
    "sweep_interval_seconds",
    "lease_seconds",
    "worker_timeout_seconds",
)


def _check(config: AppConfig) -> None:
    _check_finite(config)
    if not 1 <= config.api.port <= 65535:
        raise InvalidInput.for_field("api.port", "must be between 1 and 65535")
    if config.api.key_cache_seconds < 0:
        raise InvalidInput.for_field("api.key_cache_seconds", "must not be negative (0: no cache)")
    if config.api.request_head_timeout_seconds <= 0:
        raise InvalidInput.for_field("api.request_head_timeout_seconds", "must be a positive number")
    if config.api.max_connections < 1:
        raise InvalidInput.for_field("api.max_connections", "must be at least 1")
    if config.worker.concurrency < 1:
        raise InvalidInput.for_field("worker.concurrency", "must be at least 1")
    if config.worker.python_processes < 0:
        raise InvalidInput.for_field(
            "worker.python_processes", "must not be negative (0: as many as concurrency)"
        )
    for name in _POSITIVE_DISPATCHER_SECONDS:
        if getattr(config.dispatcher, name) <= 0:
            raise InvalidInput.for_field(f"dispatcher.{name}", "must be positive")
    if config.admin_api_key and len(config.admin_api_key) < 16:
        raise InvalidInput.for_field("admin_api_key", "must be at least 16 characters")
    _check_url("queue.url", config.queue.url, _BROKER_SCHEMES, "use redis://, amqp:// or memory://")
    _check_url(
        "worker.api_url",
        config.worker.api_url,
        ("http", "https"),
        "give the API's address, e.g. http://api.internal:8080",
    )
    if config.logging.level.upper() not in (*_LOG_LEVELS, "WARN", "FATAL"):  # what `logging` knows
        raise InvalidInput.for_field("logging.level", f"must be one of {', '.join(_LOG_LEVELS)}")
    if config.logging.format not in ("json", "console"):
        raise InvalidInput.for_field("logging.format", "must be 'json' or 'console'")


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_BROKER_SCHEMES = ("memory", "redis", "rediss", "amqp", "amqps")


def _check_url(name: str, url: str, schemes: tuple[str, ...], usage: str) -> None:
    """`url` must parse, with a numeric port if any, and use one of `schemes` (never echoed: it may
    hold a password)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port is the check: a non-numeric one raises here
    except ValueError as exc:
        raise InvalidInput.for_field(name, f"not a URL ({exc}): {usage}") from exc
    if not parts.scheme or "://" not in url:
        raise InvalidInput.for_field(name, f"not a URL (no scheme://): {usage}")
    if parts.scheme.lower() not in schemes:
        raise InvalidInput.for_field(name, f"{parts.scheme}:// is not served here: {usage}")


def _check_finite(config: AppConfig) -> None:
    """No number of seconds may be NaN or infinite: every one of them feeds a timer or a
    comparison, where NaN is never due and never late (`nan < x` and `nan > x` are both false)."""
    for section in structs.fields(config):
        settings = getattr(config, section.name)
        if not isinstance(settings, Struct):
            continue
        for field in structs.fields(settings):
            value = getattr(settings, field.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise InvalidInput.for_field(f"{section.name}.{field.name}", "must be a finite number")
