"""The `scheduler` command's entry point: Ctrl-C while the command line is still loading exits
quietly (130), as it does once loaded, rather than with a traceback through the imports."""

from __future__ import annotations

import sys

#: Modules a library loads when they are installed, for features the scheduler does not use.
UNUSED_MODULES = ("opentelemetry.sdk.metrics",)


def main() -> None:
    """Load the command line, then run it."""
    keep_unused_modules_out()
    try:
        from scheduler_app.cli import main as run_cli
    except KeyboardInterrupt:
        sys.exit(130)
    run_cli()


def keep_unused_modules_out() -> None:
    """Make `UNUSED_MODULES` fail to import, as if they were not installed.

    redis-py imports OpenTelemetry's metrics SDK whenever it can, for metrics of its own that stay
    off unless configured. The SDK is installed for the scheduler's traces, so every process that
    loads redis-py (a worker, a dispatcher, an API) paid about 2 MB of memory and 40 ms at start for
    it. The scheduler's metrics are Prometheus's, and its traces use no part of the metrics SDK.
    """
    for name in UNUSED_MODULES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
