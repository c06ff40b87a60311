"""An example executor plugin: `echo` answers with the command and arguments it was given.

Installed next to the scheduler, it is found through the `scheduler.executors` entry-point
group its pyproject.toml declares; a plugin needs nothing else.
"""

from __future__ import annotations

from scheduler_domain import RunDispatch, RunOutcome, RunStatus

__all__ = ["EchoExecutor"]


class EchoExecutor:
    """Succeeds at once with `{"command": ..., "arguments": ..., "run_id": ..., "attempt": ...}`."""

    @property
    def name(self) -> str:
        """`echo`, the name tasks use and the entry point's name."""
        return "echo"

    async def execute(self, job: RunDispatch) -> RunOutcome:
        """Echo the job back as the result."""
        return RunOutcome(
            status=RunStatus.SUCCEEDED,
            result={
                "command": job.command,
                "arguments": job.arguments,
                "run_id": job.run_id,
                "attempt": job.attempt,
            },
        )
