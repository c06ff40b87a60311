"""Settings: defaults, then TOML, then env vars, then overrides; bad settings named clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from scheduler_config import AppConfig, encrypt, load_config, new_key
from scheduler_config.settings import MAX_CONCURRENCY
from scheduler_domain import MAX_CONCURRENT_TASKS
from scheduler_errors import InvalidInput


def test_defaults_are_the_embedded_setup() -> None:
    config = load_config({})

    assert config == AppConfig()
    assert config.database_url == "sqlite:///.scheduler/scheduler.db"
    assert config.queue.url == "memory://"
    assert config.is_embedded


def test_each_source_overrides_the_one_before(tmp_path: Path) -> None:
    file = tmp_path / "settings.toml"
    file.write_text('data_dir = "/srv/a"\n[api]\nport = 9000\nhost = "0.0.0.0"\n[worker]\nconcurrency = 2\n')
    env = {
        "SCHEDULER_CONFIG": str(file),
        "SCHEDULER_API__PORT": "9100",
        "SCHEDULER_WORKER__TASK_TYPES": "shell,http",
    }

    config = load_config(env, overrides={"api.host": "127.0.0.2", "data_dir": None})

    assert config.api.port == 9100
    assert config.api.host == "127.0.0.2"
    assert config.data_dir == "/srv/a"
    assert config.worker.concurrency == 2
    assert config.worker.task_types == ("shell", "http")
    assert config.sqlite_path == Path("/srv/a/scheduler.db")


def test_env_values_are_typed() -> None:
    config = load_config(
        {"SCHEDULER_DISPATCHER__SCAN_INTERVAL_SECONDS": "0.25", "SCHEDULER_API__METRICS_PUBLIC": "false"}
    )

    assert config.dispatcher.scan_interval_seconds == 0.25
    assert config.api.metrics_public is False


def test_the_api_server_bounds_slow_heads_and_connections_by_default_and_as_told() -> None:
    defaults = load_config({}).api
    env = {"SCHEDULER_API__REQUEST_HEAD_TIMEOUT_SECONDS": "0.5", "SCHEDULER_API__MAX_CONNECTIONS": "2"}
    told = load_config(env).api

    assert (defaults.request_head_timeout_seconds, defaults.max_connections) == (10, 1000)
    assert (told.request_head_timeout_seconds, told.max_connections) == (0.5, 2)


IDP_ISSUER = {"SCHEDULER_API__JWT_JWKS_ISSUER": "https://idp.example"}


def test_an_identity_provider_is_trusted_only_when_named() -> None:
    defaults = load_config({}).api
    env = {
        "SCHEDULER_API__JWT_JWKS_URL": "https://idp.example/.well-known/jwks.json",
        "SCHEDULER_API__JWT_JWKS_ISSUER": "https://idp.example",
        "SCHEDULER_API__JWT_ROLE_CLAIM": "scheduler_roles",
        "SCHEDULER_API__JWT_JWKS_REFRESH_SECONDS": "60",
    }
    told = load_config(env).api

    assert defaults.jwt_jwks_url == ""
    assert (defaults.jwt_role_claim, defaults.jwt_jwks_refresh_seconds) == ("role", 600)
    assert (told.jwt_jwks_issuer, told.jwt_role_claim, told.jwt_jwks_refresh_seconds) == (
        "https://idp.example",
        "scheduler_roles",
        60,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"SCHEDULER_API__NOPE": "1"}, "nope"),
        ({"SCHEDULER_API__PORT": "eighty"}, "port"),
        ({"SCHEDULER_API__PORT": "70000"}, "api.port"),
        ({"SCHEDULER_ADMIN_API_KEY": "short"}, "admin_api_key"),
        ({"SCHEDULER_WORKER__CONCURRENCY": "0"}, "worker.concurrency"),
        ({"SCHEDULER_WORKER__PYTHON_PROCESSES": "-1"}, "worker.python_processes"),
        ({"SCHEDULER_API__KEY_CACHE_SECONDS": "-1"}, "api.key_cache_seconds"),
        ({"SCHEDULER_API__REQUEST_HEAD_TIMEOUT_SECONDS": "0"}, "api.request_head_timeout_seconds"),
        ({"SCHEDULER_API__REQUEST_HEAD_TIMEOUT_SECONDS": "nan"}, "api.request_head_timeout_seconds"),
        ({"SCHEDULER_API__MAX_CONNECTIONS": "0"}, "api.max_connections"),
        ({"SCHEDULER_API__KEY_CACHE_SECONDS": "nan"}, "api.key_cache_seconds"),
        ({"SCHEDULER_DATABASE__POOL_MAX_SIZE": "0"}, "database.pool_max_size"),
        ({"SCHEDULER_DATABASE__POOL_MIN_SIZE": "11"}, "database.pool_min_size"),
        ({"SCHEDULER_DATABASE__CONNECT_TIMEOUT_SECONDS": "0"}, "database.connect_timeout_seconds"),
        ({"SCHEDULER_QUEUE__PREFETCH": "-1"}, "queue.prefetch"),
        ({"SCHEDULER_API__MAX_BODY_BYTES": "-5"}, "api.max_body_bytes"),
        ({"SCHEDULER_DISPATCHER__BATCH_SIZE": "0"}, "dispatcher.batch_size"),
        ({"SCHEDULER_DISPATCHER__REQUEUE_AFTER_SECONDS": "0"}, "dispatcher.requeue_after_seconds"),
        ({"SCHEDULER_DISPATCHER__METRICS_PORT": "65536"}, "dispatcher.metrics_port"),
        ({"SCHEDULER_DISPATCHER__METRICS_PORT": "-1"}, "dispatcher.metrics_port"),
        ({"SCHEDULER_WORKER__METRICS_PORT": "65536"}, "worker.metrics_port"),
        ({"SCHEDULER_API__JWT_SECRET": "too-short-for-hs256"}, "api.jwt_secret"),
        ({"SCHEDULER_API__JWT_TTL_SECONDS": "0"}, "api.jwt_ttl_seconds"),
        ({"SCHEDULER_API__JWT_TTL_SECONDS": "86401"}, "api.jwt_ttl_seconds"),
        ({"SCHEDULER_API__JWT_AUDIENCE": " "}, "api.jwt_audience"),
        ({"SCHEDULER_API__JWT_ISSUER": ""}, "api.jwt_issuer"),
        ({**IDP_ISSUER, "SCHEDULER_API__JWT_JWKS_URL": "idp.example/jwks.json"}, "api.jwt_jwks_url"),
        ({**IDP_ISSUER, "SCHEDULER_API__JWT_JWKS_URL": "ftp://idp.example/jwks"}, "api.jwt_jwks_url"),
        ({**IDP_ISSUER, "SCHEDULER_API__JWT_JWKS_URL": "https:///jwks.json"}, "api.jwt_jwks_url"),
        ({"SCHEDULER_API__JWT_JWKS_URL": "https://idp.example/jwks.json"}, "api.jwt_jwks_issuer"),
        ({"SCHEDULER_API__JWT_JWKS_REFRESH_SECONDS": "9"}, "api.jwt_jwks_refresh_seconds"),
        ({"SCHEDULER_API__JWT_JWKS_REFRESH_SECONDS": "86401"}, "api.jwt_jwks_refresh_seconds"),
        ({"SCHEDULER_TRACING__EXPORTER": "jaeger"}, "tracing.exporter"),
        ({"SCHEDULER_TRACING__OTLP_ENDPOINT": "collector:4318"}, "tracing.otlp_endpoint"),
        ({"SCHEDULER_TRACING__SERVICE_NAME": " "}, "tracing.service_name"),
        ({"SCHEDULER_TRACING__SAMPLE_RATIO": "1.5"}, "tracing.sample_ratio"),
        ({"SCHEDULER_WORKER__HEARTBEAT_INTERVAL_SECONDS": "0"}, "worker.heartbeat_interval_seconds"),
        ({"SCHEDULER_WORKER__CONCURRENCY": "1e9"}, "worker.concurrency"),
        ({"SCHEDULER_WORKER__OUTPUT_LIMIT_BYTES": "-1"}, "worker.output_limit_bytes"),
        ({"SCHEDULER_WORKER__KILL_GRACE_SECONDS": "-1"}, "worker.kill_grace_seconds"),
        ({"SCHEDULER_DATA_DIR": " "}, "data_dir"),
        ({"SCHEDULER_WORKER__HEARTBEAT_INTERVAL_SECONDS": "inf"}, "worker.heartbeat_interval_seconds"),
        ({"SCHEDULER_DISPATCHER__MISFIRE_GRACE_SECONDS": "-inf"}, "dispatcher.misfire_grace_seconds"),
        ({"SCHEDULER_DATABASE__STATEMENT_TIMEOUT_SECONDS": "NaN"}, "database.statement_timeout_seconds"),
        ({"SCHEDULER_LOGGING__LEVEL": "LOUD"}, "logging.level"),
        ({"SCHEDULER_QUEUE__URL": "kafka://127.0.0.1:9092"}, "queue.url"),
        ({"SCHEDULER_WORKER__API_URL": "api.internal:8080"}, "worker.api_url"),
        ({"SCHEDULER_WORKER__API_URL": "http://127.0.0.1:abc"}, "worker.api_url"),
        ({"SCHEDULER_WORKER__API_URL": "ftp://api.internal"}, "worker.api_url"),
        ({"SCHEDULER_QUEUE__URL": "redis://[bad"}, "queue.url"),
        ({"SCHEDULER_QUEUE__URL": "amqp://127.0.0.1:abc/"}, "queue.url"),
        ({"SCHEDULER_QUEUE__URL": "redis://127.0.0.1:99999/0"}, "queue.url"),
    ],
)
def test_a_bad_setting_is_named(env: dict[str, str], named: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        load_config(env)

    assert named in str(caught.value)


def test_a_missing_or_broken_file_is_reported(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[api\n")

    with pytest.raises(InvalidInput, match="does not exist"):
        load_config({}, path=tmp_path / "absent.toml")
    with pytest.raises(InvalidInput, match="not valid TOML"):
        load_config({}, path=broken)


def test_a_file_that_cannot_be_read_as_text_is_named(tmp_path: Path) -> None:
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe[api]\n")

    with pytest.raises(InvalidInput, match=r"binary\.toml is not UTF-8 text"):
        load_config({}, path=binary)
    with pytest.raises(InvalidInput, match=r"config file .*cannot be read \(Is a directory\)"):
        load_config({"SCHEDULER_CONFIG": str(tmp_path)})


def test_test_server_urls_are_not_settings() -> None:
    config = load_config(
        {"SCHEDULER_TEST_POSTGRES_URL": "postgresql://x", "SCHEDULER_TEST_REDIS_URL": "redis://x"}
    )

    assert config == AppConfig()


def test_encrypted_values_are_decrypted_with_the_secret_key(tmp_path: Path) -> None:
    key = new_key()
    file = tmp_path / "settings.toml"
    file.write_text(f'[database]\nurl = "{encrypt("postgresql://app:s3cret@db/x", key)}"\n')

    config = load_config({"SCHEDULER_SECRET_KEY": key}, path=file)

    assert config.database.url == "postgresql://app:s3cret@db/x"
    assert "s3cret" not in file.read_text()


@pytest.mark.parametrize(("env_key", "complaint"), [(None, "not set"), ("other", "cannot be decrypted")])
def test_an_encrypted_value_without_the_right_key_is_named(
    tmp_path: Path, env_key: str | None, complaint: str
) -> None:
    token = encrypt("hunter2hunter2hunter2", new_key())
    env = {"SCHEDULER_ADMIN_API_KEY": token}
    if env_key is not None:
        env["SCHEDULER_SECRET_KEY"] = new_key()

    with pytest.raises(InvalidInput, match=complaint) as caught:
        load_config(env)

    assert "admin_api_key" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_a_malformed_secret_key_says_how_to_make_one() -> None:
    with pytest.raises(InvalidInput, match="new-key"):
        load_config({"SCHEDULER_SECRET_KEY": "short", "SCHEDULER_ADMIN_API_KEY": "enc:v1:abc"})


def test_a_worker_may_be_configured_with_as_many_runs_as_the_api_lets_it_register() -> None:
    assert MAX_CONCURRENCY == MAX_CONCURRENT_TASKS
    assert (
        load_config({"SCHEDULER_WORKER__CONCURRENCY": str(MAX_CONCURRENCY)}).worker.concurrency
        == MAX_CONCURRENCY
    )
