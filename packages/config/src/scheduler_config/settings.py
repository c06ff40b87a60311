"""Typed settings, one frozen struct per section."""

from __future__ import annotations

import math
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from msgspec import Struct, structs

from scheduler_config.alerting import AlertsConfig, check_alerts
from scheduler_config.cors import check_cors_origins
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
    #: Status reports a dispatcher holds unacknowledged while it applies them (in batches of at
    #: most 256). A worker holds as many runs as its `worker.concurrency`, whatever this says.
    prefetch: int = 256
    namespace: str = ""
    """A prefix for every stream or queue name, so that several schedulers can share a broker."""

    @property
    def is_in_process(self) -> bool:
        """True for the in-process queue, which only one process can use."""
        return self.url.startswith("memory://")


class CircuitBreakerConfig(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The circuit breakers in front of PostgreSQL and the broker (not SQLite, not `memory://`)."""

    #: Availability failures in a row (a refused or lost connection, a timeout) after which calls
    #: fail at once instead of waiting out their own timeouts. 0: no breakers.
    failure_threshold: int = 5
    #: How long an open breaker fails calls at once before it lets a trial call through.
    reset_timeout_seconds: float = 5.0
    #: Trial calls let through at once when that time is up; the first that succeeds closes it.
    half_open_max_calls: int = 1


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
    #: The HS256 key that signs and checks the JWTs of `POST /api/v1/auth/token` (at least 32
    #: characters). Empty: each API process draws a random one at start, so a token works only on
    #: the process that issued it, until it stops; give every API process of a cluster the same.
    jwt_secret: str = ""
    #: How long a JWT is valid (`expires_in`); revoking its API key does not end it sooner.
    jwt_ttl_seconds: int = 900
    #: The `aud` and `iss` claims of the JWTs issued, and the `aud` a presented JWT must carry.
    jwt_audience: str = "scheduler"
    jwt_issuer: str = "scheduler"
    #: Where an outside identity provider publishes its keys (a JWKS, `http://` or `https://`):
    #: bearer JWTs it signed with RS256 or ES256 are then accepted too. Empty: none are.
    jwt_jwks_url: str = ""
    #: The `iss` the provider's tokens must carry (required with `jwt_jwks_url`); their `aud` must
    #: be `jwt_audience`, as for the API's own tokens.
    jwt_jwks_issuer: str = ""
    #: The claim of the provider's tokens that names the caller's role (admin, operator, readonly
    #: or worker): a string, or a list of strings of which the first known role counts.
    jwt_role_claim: str = "role"
    #: How long the provider's keys are trusted once fetched before they are fetched again.
    jwt_jwks_refresh_seconds: int = 600
    #: Requests each credential (API key or token) may make per second in this process, and in a
    #: burst; checked before authentication. 0 in either: no limit. N API processes allow N times.
    rate_limit_per_second: float = 1000.0
    rate_limit_burst: int = 2000
    #: Requests answered 401 each client address may cause per second, and in a burst; while its
    #: allowance is spent, every request from that address is answered 429. 0 in either: no limit.
    auth_failures_per_second: float = 5.0
    auth_failures_burst: int = 50
    #: The origins (`scheme://host[:port]`, as browsers send them in `Origin`) of the web pages that
    #: may call the API from a browser (CORS), or `*` alone: any. Empty: no CORS headers at all,
    #: so browsers refuse every cross-origin call. Credentials travel in headers, never in cookies.
    cors_allow_origins: tuple[str, ...] = ()
    #: How long a browser may keep the answer to a preflight request before it asks again.
    cors_max_age_seconds: int = 600


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
    #: How long a worker that fell silent stays listed, offline, before the sweep forgets it.
    offline_worker_retention_seconds: float = 86_400.0
    #: Where `scheduler dispatcher` serves its own metrics (`GET /metrics`, Prometheus text, no
    #: credential): the runs it dispatched, ended and retried. 0: not served. The API serves its
    #: own on its port; a dispatcher inside `standalone` counts into those.
    metrics_port: int = 0
    metrics_host: str = "127.0.0.1"


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
    #: Where `scheduler worker` serves its own metrics (`GET /metrics`, Prometheus text, no
    #: credential). 0: not served (the worker then loads no metrics library).
    metrics_port: int = 0
    metrics_host: str = "127.0.0.1"


class TracingConfig(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """OpenTelemetry traces of each run: from the API request, through the dispatcher, to the worker."""

    #: `off` (no spans; no OpenTelemetry module is loaded), `console` (each finished span as one
    #: JSON line on stdout) or `otlp` (OTLP over HTTP to `otlp_endpoint`).
    exporter: str = "off"
    otlp_endpoint: str = "http://127.0.0.1:4318/v1/traces"
    #: The `service.name` of this process's spans.
    service_name: str = "scheduler"
    #: The share of new traces recorded (0 to 1); a span continuing a trace follows its parent's
    #: choice, so a run's trace is whole or absent.
    sample_ratio: float = 1.0


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
    circuit_breaker: CircuitBreakerConfig = CircuitBreakerConfig()
    api: ApiConfig = ApiConfig()
    dispatcher: DispatcherConfig = DispatcherConfig()
    worker: WorkerConfig = WorkerConfig()
    tracing: TracingConfig = TracingConfig()
    logging: LoggingConfig = LoggingConfig()
    alerts: AlertsConfig = AlertsConfig()

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


#: The most runs one worker may hold at once: as many as the API lets a worker register with.
MAX_CONCURRENCY = 10_000

#: Settings that must be positive (a zero interval or timeout would spin or never wait).
_POSITIVE = (
    "database.connect_timeout_seconds",
    "api.request_head_timeout_seconds",
    "dispatcher.scan_interval_seconds",
    "dispatcher.sweep_interval_seconds",
    "dispatcher.lease_seconds",
    "dispatcher.worker_timeout_seconds",
    "dispatcher.offline_worker_retention_seconds",
    "dispatcher.requeue_after_seconds",
    "worker.heartbeat_interval_seconds",
    "circuit_breaker.reset_timeout_seconds",
)
#: Settings with a range: (setting, lowest, highest or None, what 0 means when it means something).
_RANGES: tuple[tuple[str, int, int | None, str], ...] = (
    ("database.pool_min_size", 0, None, ""),
    ("database.pool_max_size", 1, None, ""),
    ("database.statement_timeout_seconds", 0, None, " (0: no limit)"),
    ("queue.prefetch", 1, None, ""),
    ("circuit_breaker.failure_threshold", 0, None, " (0: no breakers)"),
    ("circuit_breaker.half_open_max_calls", 1, None, ""),
    ("api.port", 1, 65535, ""),
    ("api.max_body_bytes", 1, None, ""),
    ("api.key_cache_seconds", 0, None, " (0: no cache)"),
    ("api.max_connections", 1, None, ""),
    ("api.jwt_ttl_seconds", 1, 86_400, ""),
    ("api.jwt_jwks_refresh_seconds", 10, 86_400, ""),
    ("api.rate_limit_per_second", 0, None, " (0: no limit)"),
    ("api.rate_limit_burst", 0, None, " (0: no limit)"),
    ("api.auth_failures_per_second", 0, None, " (0: no limit)"),
    ("api.auth_failures_burst", 0, None, " (0: no limit)"),
    ("api.cors_max_age_seconds", 0, None, ""),
    ("dispatcher.batch_size", 1, None, ""),
    ("dispatcher.misfire_grace_seconds", 0, None, ""),
    ("dispatcher.timeout_grace_seconds", 0, None, ""),
    ("dispatcher.metrics_port", 0, 65535, " (0: not served)"),
    ("worker.concurrency", 1, MAX_CONCURRENCY, ""),
    ("worker.python_processes", 0, MAX_CONCURRENCY, " (0: as many as concurrency)"),
    ("worker.output_limit_bytes", 0, None, ""),
    ("worker.kill_grace_seconds", 0, None, ""),
    ("worker.drain_grace_seconds", 0, None, ""),
    ("worker.metrics_port", 0, 65535, " (0: not served)"),
)


def _check(config: AppConfig) -> None:
    _check_finite(config)
    for name in _POSITIVE:
        if _setting(config, name) <= 0:
            raise InvalidInput.for_field(name, "must be positive")
    for name, lowest, highest, zero in _RANGES:
        value = _setting(config, name)
        if highest is not None and not lowest <= value <= highest:
            raise InvalidInput.for_field(name, f"must be between {lowest} and {highest}{zero}")
        if value < lowest:
            told = "must not be negative" if lowest == 0 else f"must be at least {lowest}"
            raise InvalidInput.for_field(name, told + zero)
    if config.database.pool_min_size > config.database.pool_max_size:
        raise InvalidInput.for_field("database.pool_min_size", "must not be more than database.pool_max_size")
    if not config.data_dir.strip():
        raise InvalidInput.for_field("data_dir", "must not be empty")
    if config.admin_api_key and len(config.admin_api_key) < 16:
        raise InvalidInput.for_field("admin_api_key", "must be at least 16 characters")
    _check_tokens(config.api)
    check_cors_origins(config.api.cors_allow_origins)
    _check_url("queue.url", config.queue.url, _BROKER_SCHEMES, "use redis://, amqp:// or memory://")
    _check_url(
        "worker.api_url",
        config.worker.api_url,
        ("http", "https"),
        "give the API's address, e.g. http://api.internal:8080",
    )
    if config.logging.level.upper() not in (*_LOG_LEVELS, "WARN", "FATAL"):  # what `logging` knows
        raise InvalidInput.for_field("logging.level", f"must be one of {', '.join(_LOG_LEVELS)}")
    _check_tracing(config.tracing)
    if config.logging.format not in ("json", "console"):
        raise InvalidInput.for_field("logging.format", "must be 'json' or 'console'")
    check_alerts(config.alerts)


def _check_tracing(tracing: TracingConfig) -> None:
    if tracing.exporter not in ("off", "console", "otlp"):
        raise InvalidInput.for_field("tracing.exporter", "must be 'off', 'console' or 'otlp'")
    if not tracing.service_name.strip():
        raise InvalidInput.for_field("tracing.service_name", "must not be empty")
    if not 0 <= tracing.sample_ratio <= 1:
        raise InvalidInput.for_field("tracing.sample_ratio", "must be between 0 and 1")
    _check_url(
        "tracing.otlp_endpoint",
        tracing.otlp_endpoint,
        ("http", "https"),
        "give the collector's OTLP/HTTP address, e.g. http://127.0.0.1:4318/v1/traces",
    )


def _check_tokens(api: ApiConfig) -> None:
    if api.jwt_secret and len(api.jwt_secret) < 32:
        raise InvalidInput.for_field("api.jwt_secret", "must be at least 32 characters (or empty)")
    for name, claim in (("api.jwt_audience", api.jwt_audience), ("api.jwt_issuer", api.jwt_issuer)):
        if not claim.strip():
            raise InvalidInput.for_field(name, "must not be empty")
    if api.jwt_jwks_url:
        _check_outside_tokens(api)


def _check_outside_tokens(api: ApiConfig) -> None:
    usage = "give the identity provider's JWKS address, e.g. https://idp.example/.well-known/jwks.json"
    _check_url("api.jwt_jwks_url", api.jwt_jwks_url, ("http", "https"), usage)
    if not urlsplit(api.jwt_jwks_url).hostname:
        raise InvalidInput.for_field("api.jwt_jwks_url", f"not a URL (no host): {usage}")
    if not api.jwt_jwks_issuer.strip():
        raise InvalidInput.for_field(
            "api.jwt_jwks_issuer", "must name the iss of the provider's tokens when api.jwt_jwks_url is set"
        )
    if not api.jwt_role_claim.strip():
        raise InvalidInput.for_field("api.jwt_role_claim", "must not be empty")


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


def _setting(config: AppConfig, name: str) -> float:
    section, _, field = name.partition(".")
    value: float = getattr(getattr(config, section), field)
    return value
