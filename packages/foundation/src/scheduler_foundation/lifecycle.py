"""The lifecycle every long-running part of a process follows."""

from __future__ import annotations

from typing import Protocol


class Service(Protocol):
    """A part of a process that runs until stopped (dispatcher loop, worker, API server)."""

    @property
    def name(self) -> str:
        """A short name for logs."""
        ...

    async def run(self) -> None:
        """Run until `stop` is called; return once everything is shut down."""
        ...

    def stop(self) -> None:
        """Ask `run` to finish promptly; safe to call more than once, from a signal handler."""
        ...
