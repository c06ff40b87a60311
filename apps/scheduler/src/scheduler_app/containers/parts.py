"""The parts every process kind shares: settings, executors, use cases and the three roles."""

from __future__ import annotations

import os
import secrets
import socket
from datetime import timedelta

from dependency_injector import containers, providers

from scheduler_api import create_app
from scheduler_api.limits import Rate, RateLimiter, RateLimits
from scheduler_api.outside_tokens import IdentityProviderKeys, OutsideTokens
from scheduler_api.tokens import TokenAuthority
from scheduler_app.alerting import current_evaluator, live_alerts
from scheduler_app.readiness import Readiness
from scheduler_app.reloading import SettingsReload
from scheduler_app.reporter import InProcessRunReporter
from scheduler_app.server import ApiServer
from scheduler_application import (
    AccessControl,
    AlertMetrics,
    AuditTrail,
    DependencyRelease,
    Leadership,
    RunControl,
    RunLifecycle,
    SchedulerService,
    SchedulingPolicy,
    StatusReports,
    SystemOverview,
    TaskControl,
    WaveRecovery,
    WorkerRecovery,
    WorkerRegistry,
)
from scheduler_config import AppConfig
from scheduler_dispatcher import Dispatcher, StatusApplier
from scheduler_domain import STATUS_RUNS
from scheduler_foundation import Clock
from scheduler_observability.metrics import Metrics
from scheduler_worker import Worker


def dispatcher_holder_id() -> str:
    """`<hostname>-<pid>-<random>`: who holds the leadership lease (unique even when a pid is reused)."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def token_authority(config: AppConfig, clock: Clock) -> TokenAuthority:
    """The signer of the API's JWTs: with `api.jwt_secret`, or a random secret of this process's own."""
    api = config.api
    secret = api.jwt_secret or TokenAuthority.random_secret()
    return TokenAuthority(
        secret=secret,
        ttl_seconds=api.jwt_ttl_seconds,
        audience=api.jwt_audience,
        issuer=api.jwt_issuer,
        clock=clock,
    )


def outside_token_checker(config: AppConfig, clock: Clock) -> OutsideTokens | None:
    """The checker of an outside identity provider's JWTs; None without `api.jwt_jwks_url`."""
    api = config.api
    if not api.jwt_jwks_url:
        return None
    keys = IdentityProviderKeys(
        url=api.jwt_jwks_url, refresh_seconds=api.jwt_jwks_refresh_seconds, clock=clock
    )
    return OutsideTokens(
        keys=keys,
        issuer=api.jwt_jwks_issuer,
        audience=api.jwt_audience,
        role_claim=api.jwt_role_claim,
        clock=clock,
    )


def api_rate_limits(config: AppConfig) -> RateLimits:
    """The API's rate limits: `api.rate_limit_*` per credential, `api.auth_failures_*` per address."""
    api = config.api
    return RateLimits(
        per_credential=Rate(per_second=api.rate_limit_per_second, burst=api.rate_limit_burst),
        auth_failures=Rate(per_second=api.auth_failures_per_second, burst=api.auth_failures_burst),
    )


#: The API settings a running API process takes up when its settings are reloaded.
API_LIMIT_SETTINGS = (
    "api.rate_limit_per_second",
    "api.rate_limit_burst",
    "api.auth_failures_per_second",
    "api.auth_failures_burst",
)


def reload_api_limits(reload: SettingsReload, limiter: RateLimiter) -> None:
    """Have `reload` put the API's new rate limits in force in `limiter`."""
    reload.live(*API_LIMIT_SETTINGS, apply=lambda config: limiter.update(api_rate_limits(config)))


#: The most status reports a dispatcher applies in one batch (one read and one write of the runs).
MAX_STATUS_BATCH = 256


class UseCases(containers.DeclarativeContainer):
    """The application services, over whatever storage and messaging they are given."""

    core = providers.DependenciesContainer()
    storage = providers.DependenciesContainer()
    messaging = providers.DependenciesContainer()
    executors = providers.DependenciesContainer()

    task_control = providers.Singleton(
        TaskControl,
        tasks=storage.tasks,
        runs=storage.runs,
        clock=core.clock,
        wakeup=storage.wakeup,
        executors=executors.checks,
        tracer=core.tracer,
        manual_runs=storage.manual_runs,
    )
    dependency_release = providers.Singleton(
        DependencyRelease, runs=storage.runs, tasks=storage.tasks, clock=core.clock, wakeup=storage.wakeup
    )
    run_control = providers.Singleton(
        RunControl,
        runs=storage.runs,
        queue=messaging.queue,
        clock=core.clock,
        dependencies=dependency_release,
    )
    lifecycle = providers.Singleton(
        RunLifecycle,
        runs=storage.runs,
        tasks=storage.tasks,
        clock=core.clock,
        dependencies=dependency_release,
    )
    access = providers.Singleton(
        AccessControl,
        keys=storage.api_keys,
        clock=core.clock,
        key_cache_ttl=providers.Factory(timedelta, seconds=core.config.provided.api.key_cache_seconds),
    )
    workers = providers.Singleton(WorkerRegistry, workers=storage.workers, clock=core.clock)
    audit = providers.Singleton(AuditTrail, log=storage.audit_log, clock=core.clock)
    overview = providers.Singleton(
        SystemOverview, tasks=storage.tasks, runs=storage.runs, workers=storage.workers
    )
    alert_metrics = providers.Singleton(AlertMetrics, overview=overview, runs=storage.runs, clock=core.clock)
    alerts = providers.Resource(live_alerts, core.config, alert_metrics, core.clock)  # reloadable
    policy = providers.Singleton(
        SchedulingPolicy.from_seconds,
        batch_size=core.config.provided.dispatcher.batch_size,
        misfire_grace=core.config.provided.dispatcher.misfire_grace_seconds,
        timeout_grace=core.config.provided.dispatcher.timeout_grace_seconds,
        requeue_after=core.config.provided.dispatcher.requeue_after_seconds,
    )
    wave_recovery = providers.Singleton(
        WaveRecovery, runs=storage.runs, dependencies=dependency_release, clock=core.clock
    )
    recovery = providers.Singleton(
        WorkerRecovery,
        workers=storage.workers,
        runs=storage.runs,
        lifecycle=lifecycle,
        clock=core.clock,
        worker_timeout=providers.Callable(
            timedelta, seconds=core.config.provided.dispatcher.worker_timeout_seconds
        ),
        offline_retention=providers.Callable(
            timedelta, seconds=core.config.provided.dispatcher.offline_worker_retention_seconds
        ),
    )
    scheduler = providers.Singleton(
        SchedulerService,
        tasks=storage.tasks,
        runs=storage.runs,
        queue=messaging.queue,
        lifecycle=lifecycle,
        clock=core.clock,
        policy=policy,
        claims=storage.pending_claims,
        tracer=core.tracer,
    )
    status_reports = providers.Singleton(
        StatusReports,
        runs=storage.runs,
        tasks=storage.tasks,
        lifecycle=lifecycle,
        queue=messaging.queue,
        clock=core.clock,
    )


class Roles(containers.DeclarativeContainer):
    """The three roles a process can play, each a Service."""

    core = providers.DependenciesContainer()
    storage = providers.DependenciesContainer()
    messaging = providers.DependenciesContainer()
    executors = providers.DependenciesContainer()
    use_cases = providers.DependenciesContainer()
    metrics = providers.Dependency(instance_of=Metrics)

    readiness = providers.Singleton(Readiness, database=storage.database, queue=messaging.queue)
    tokens = providers.Singleton(token_authority, core.config, core.clock)
    outside_tokens = providers.Singleton(outside_token_checker, core.config, core.clock)
    rate_limiter = providers.Singleton(
        RateLimiter, providers.Callable(api_rate_limits, core.config), metrics=metrics
    )
    api_app = providers.Singleton(
        create_app,
        tasks=use_cases.task_control,
        runs=use_cases.run_control,
        access=use_cases.access,
        workers=use_cases.workers,
        audit=use_cases.audit,
        tokens=tokens,
        readiness=readiness.provided.check,
        metrics=metrics,
        overview=use_cases.overview,
        metrics_public=core.config.provided.api.metrics_public,
        tracer=core.tracer,
        max_body_bytes=core.config.provided.api.max_body_bytes,
        outside_tokens=outside_tokens,
        rate_limits=rate_limiter,
        cors_allow_origins=core.config.provided.api.cors_allow_origins,
        cors_max_age_seconds=core.config.provided.api.cors_max_age_seconds,
    )
    api_server = providers.Singleton(
        ApiServer,
        app=api_app,
        host=core.config.provided.api.host,
        port=core.config.provided.api.port,
        request_head_timeout_seconds=core.config.provided.api.request_head_timeout_seconds,
        max_connections=core.config.provided.api.max_connections,
    )
    leadership = providers.Singleton(
        Leadership,
        leases=storage.leases,
        holder=providers.Callable(dispatcher_holder_id),
        lease_seconds=core.config.provided.dispatcher.lease_seconds,
    )
    dispatcher = providers.Singleton(
        Dispatcher,
        scheduler=use_cases.scheduler,
        wakeup=storage.wakeup,
        scan_interval=core.config.provided.dispatcher.scan_interval_seconds,
        sweep_interval=core.config.provided.dispatcher.sweep_interval_seconds,
        leadership=leadership,
        recovery=use_cases.recovery,
        waves=use_cases.wave_recovery,
        alerts=providers.Callable(current_evaluator, use_cases.alerts),  # None: no rules
        alert_interval=core.config.provided.alerts.evaluation_interval_seconds,
    )
    status_applier = providers.Singleton(
        StatusApplier,
        queue=messaging.queue,
        reports=use_cases.status_reports,
        routing_keys=(STATUS_RUNS,),
        prefetch=core.config.provided.queue.prefetch,
        max_batch=providers.Callable(min, core.config.provided.queue.prefetch, MAX_STATUS_BATCH),
    )
    reporter = providers.Singleton(InProcessRunReporter, lifecycle=use_cases.lifecycle)
    worker = providers.Singleton(
        Worker,
        worker_id=core.config.provided.worker.worker_id,
        queue=messaging.queue,
        reporter=reporter,
        executors=executors.registry,
        task_types=core.config.provided.worker.task_types,
        concurrency=core.config.provided.worker.concurrency,
        drain_grace_seconds=core.config.provided.worker.drain_grace_seconds,
        tracer=core.tracer,
    )
