"""The `scheduler` command line."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from scheduler_app.containers.basics import default_worker_id
from scheduler_app.event_loop import run_async
from scheduler_config import AppConfig, load_config
from scheduler_errors import NotFound, SchedulerError

if TYPE_CHECKING:
    from scheduler_app.reloading import SettingsReload


def _load(ctx: click.Context, **overrides: Any) -> AppConfig:
    config_file: Path | None = ctx.obj.get("config_file")
    config = load_config(os.environ, path=config_file, overrides=overrides)
    from scheduler_observability import configure_logging

    configure_logging(config.logging)
    ctx.obj["load_again"] = functools.partial(load_config, os.environ, path=config_file, overrides=overrides)
    return config


def _reloading(ctx: click.Context, config: AppConfig) -> SettingsReload:
    """What reloads `config` on SIGHUP, from the sources `_load` read it from."""
    from scheduler_app.reloading import SettingsReload

    return SettingsReload(ctx.obj["load_again"], config)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML settings file (default: $SCHEDULER_CONFIG).",
)
@click.pass_context
def cli(ctx: click.Context, config_file: Path | None) -> None:
    """A distributed task scheduler: cron, dependencies, retries, workers, REST API."""
    ctx.ensure_object(dict)
    ctx.obj["config_file"] = config_file


#: `--data-dir` of the commands that work on the embedded store (the PostgreSQL ones ignore it).
_DATA_DIR_HELP = "Where the SQLite database lives, when no database.url is set [default: ./.scheduler]."


@cli.command()
@click.option("--host", default=None, help="Interface to listen on [default: 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port to listen on [default: 8080].")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the SQLite database lives [default: ./.scheduler].",
)
@click.pass_context
def standalone(ctx: click.Context, host: str | None, port: int | None, data_dir: Path | None) -> None:
    """API, dispatcher and worker in one process, on SQLite and an in-process queue."""
    from scheduler_app.standalone import run_standalone

    config = _load(
        ctx,
        **{
            "api.host": host,
            "api.port": port,
            "data_dir": str(data_dir) if data_dir else None,
            "worker.worker_id": _worker_id_override(),
        },
    )
    if not config.database_url.startswith("sqlite:///") or not config.queue.is_in_process:
        raise click.ClickException(
            "standalone runs on SQLite and the in-process queue; unset SCHEDULER_DATABASE__URL and "
            "SCHEDULER_QUEUE__URL, or run the roles separately"
        )
    run_async(run_standalone(config, out=sys.stdout, reload=_reloading(ctx, config)))


def _worker_id_override() -> str | None:
    return None if os.environ.get("SCHEDULER_WORKER__WORKER_ID") else default_worker_id()


def _run_role(ctx: click.Context, role: str, config: AppConfig) -> None:
    """Run `role` on the shared store and broker, refusing the embedded ones in one line."""
    if config.database_url.startswith("sqlite:///") or config.queue.is_in_process:
        raise click.ClickException(
            f"`scheduler {role}` needs a shared database and message queue, but the settings name the "
            "embedded ones (SQLite, in-process queue), which serve one process only: run "
            "`scheduler standalone`, or set SCHEDULER_DATABASE__URL=postgresql://... and "
            "SCHEDULER_QUEUE__URL=redis://... or amqp://..."
        )
    from scheduler_app.cluster import run_role

    run_async(run_role(role, config, reload=_reloading(ctx, config)))


@cli.command()
@click.option("--host", default=None, help="Interface to listen on [default: 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port to listen on [default: 8080].")
@click.pass_context
def api(ctx: click.Context, host: str | None, port: int | None) -> None:
    """The REST API alone, on PostgreSQL and Redis or RabbitMQ."""
    _run_role(ctx, "api", _load(ctx, **{"api.host": host, "api.port": port}))


@cli.command()
@click.pass_context
def dispatcher(ctx: click.Context) -> None:
    """The scheduling loop alone, on PostgreSQL and Redis or RabbitMQ."""
    _run_role(ctx, "dispatcher", _load(ctx))


@cli.command()
@click.option("--worker-id", default=None, help="Defaults to <hostname>-<pid>.")
@click.option("--task-types", default=None, help="Comma-separated, e.g. shell,http,python.")
@click.option("--concurrency", type=int, default=None, help="Runs executed at once.")
@click.option(
    "--python-processes", type=int, default=None, help="Processes for Python tasks (default: --concurrency)."
)
@click.option(
    "--api-url", default=None, help="The scheduler API to register with [default: http://127.0.0.1:8080]."
)
@click.option(
    "--api-key-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="File holding a worker-role API key (default: $SCHEDULER_WORKER__API_KEY).",
)
@click.pass_context
def worker(
    ctx: click.Context,
    worker_id: str | None,
    task_types: str | None,
    concurrency: int | None,
    python_processes: int | None,
    api_url: str | None,
    api_key_file: Path | None,
) -> None:
    """A worker process: registers through the API, takes runs from the broker."""
    overrides = {
        "worker.worker_id": worker_id or _worker_id_override(),
        "worker.task_types": task_types.split(",") if task_types else None,
        "worker.concurrency": concurrency,
        "worker.python_processes": python_processes,
        "worker.api_url": api_url,
        "worker.api_key": _read_key(api_key_file) if api_key_file else None,
    }
    config = _load(ctx, **overrides)
    if config.queue.is_in_process:
        raise click.ClickException(
            "`scheduler worker` needs a shared broker: set SCHEDULER_QUEUE__URL=redis://... or amqp://... "
            "(or run `scheduler standalone`, whose worker runs in-process)"
        )
    if not config.worker.api_key:
        raise click.ClickException(
            "`scheduler worker` needs a worker-role API key: set SCHEDULER_WORKER__API_KEY or pass "
            "--api-key-file (create one with `scheduler apikey create --name NAME --role worker`)"
        )
    from scheduler_app.worker_process import run_worker

    run_async(run_worker(config, reload=_reloading(ctx, config)))


def _read_key(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError:
        raise click.ClickException(
            f"--api-key-file {path} is not UTF-8 text: it should hold the key that "
            "`scheduler apikey create --role worker` printed"
        ) from None


@cli.command()
@click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help=_DATA_DIR_HELP
)
@click.pass_context
def migrate(ctx: click.Context, data_dir: Path | None) -> None:
    """Apply the database migrations."""
    from scheduler_app.admin import migrate_database

    config = _load(ctx, data_dir=str(data_dir) if data_dir else None)
    version = run_async(migrate_database(config))
    click.echo(f"database at schema version {version}")


@cli.group()
def apikey() -> None:
    """Manage API keys."""


@apikey.command("create")
@click.option("--name", required=True, help="A name to recognise the key by in listings and the audit log.")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["admin", "operator", "readonly", "worker"]),
    help="What the key may do.",
)
@click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help=_DATA_DIR_HELP
)
@click.pass_context
def apikey_create(ctx: click.Context, name: str, role: str, data_dir: Path | None) -> None:
    """Create an API key and print it (shown once)."""
    from scheduler_app.admin import create_api_key

    config = _load(ctx, data_dir=str(data_dir) if data_dir else None)
    click.echo(run_async(create_api_key(config, name=name, role=role)))


@apikey.command("list")
@click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help=_DATA_DIR_HELP
)
@click.pass_context
def apikey_list(ctx: click.Context, data_dir: Path | None) -> None:
    """List the API keys: id, name, role, and when each was created, expires and was revoked."""
    from scheduler_app.admin import key_table, list_api_keys

    config = _load(ctx, data_dir=str(data_dir) if data_dir else None)
    click.echo(key_table(run_async(list_api_keys(config))))


@apikey.command("revoke")
@click.argument("key_id", type=int)
@click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help=_DATA_DIR_HELP
)
@click.pass_context
def apikey_revoke(ctx: click.Context, key_id: int, data_dir: Path | None) -> None:
    """Revoke the API key KEY_ID (see `scheduler apikey list`) now.

    Every `scheduler api` on PostgreSQL refuses it at once; a running `scheduler standalone`
    within api.key_cache_seconds.
    """
    from scheduler_app.admin import moment, revoke_api_key

    config = _load(ctx, data_dir=str(data_dir) if data_dir else None)
    try:
        key, already = run_async(revoke_api_key(config, key_id))
    except NotFound:
        missing = f"there is no API key {key_id}: `scheduler apikey list` shows them"
        raise click.ClickException(missing) from None
    named = f"API key {key.id} ({key.name}, {key.role.value})"
    click.echo(f"{named} was revoked already, at {moment(key.revoked_at)}" if already else f"revoked {named}")


@cli.group("config")
def config_group() -> None:
    """Inspect settings."""


@config_group.command("check")
@click.pass_context
def config_check(ctx: click.Context) -> None:
    """Load the settings and say whether they are valid."""
    config = _load(ctx)
    from scheduler_config import redact_url

    database, queue = redact_url(config.database_url), redact_url(config.queue.url)
    click.echo(f"settings are valid (database: {database}, queue: {queue})")


@config_group.command("encrypt")
@click.argument("value")
def config_encrypt(value: str) -> None:
    """Print VALUE encrypted for a settings file (key from $SCHEDULER_SECRET_KEY)."""
    from scheduler_config import SECRET_KEY_VAR, encrypt

    key = os.environ.get(SECRET_KEY_VAR)
    if not key:
        raise click.ClickException(f"set {SECRET_KEY_VAR} first (make one with `scheduler config new-key`)")
    click.echo(encrypt(value, key))


@config_group.command("new-key")
def config_new_key() -> None:
    """Print a new random key for $SCHEDULER_SECRET_KEY."""
    from scheduler_config import new_key

    click.echo(new_key())


def main() -> None:
    """Entry point of the `scheduler` console script."""
    try:
        cli.main(prog_name="scheduler", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:  # `scheduler`, `scheduler apikey`: the help
        click.echo(exc.format_message(), err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.UsageError as exc:  # one line (click's own spreads a choice over several)
        message = " ".join(exc.format_message().split()).rstrip(".")
        where = f"; see `{exc.ctx.command_path} --help`" if exc.ctx is not None else ""
        click.echo(f"error: {message}{where}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except SchedulerError as exc:
        click.echo(f"error: {exc.detail}", err=True)
        sys.exit(2)
    except OSError as exc:
        click.echo(f"error: {exc.strerror or exc}{_os_hint(exc)}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


def _os_hint(exc: OSError) -> str:
    import errno
    import socket

    if exc.errno == errno.EADDRINUSE:
        return " (the port is taken: pass --port or stop the other process)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return " (the address to listen on is not one of this machine's: pass --host or set api.host)"
    if isinstance(exc, socket.gaierror):
        return " (a host name does not resolve: check --host or api.host)"
    return ""
