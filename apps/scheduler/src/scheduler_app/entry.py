"""The `scheduler` command's entry point: Ctrl-C while the command line is still loading exits
quietly (130), as it does once loaded, rather than with a traceback through the imports."""

from __future__ import annotations

import sys


def main() -> None:
    """Load the command line, then run it."""
    try:
        from scheduler_app.cli import main as run_cli
    except KeyboardInterrupt:
        sys.exit(130)
    run_cli()
