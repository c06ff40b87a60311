"""Error kinds that callers act on."""

from __future__ import annotations

from dataclasses import dataclass


class SchedulerError(Exception):
    """Root of every error the scheduler raises on purpose."""

    title = "Scheduler error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(SchedulerError):
    """The named entity does not exist."""

    title = "Not found"

    def __init__(self, kind: str, identifier: object) -> None:
        super().__init__(f"{kind} {identifier!r} does not exist")
        self.kind = kind
        self.identifier = identifier


class Conflict(SchedulerError):
    """The request conflicts with the current state (a finished run, a duplicate name)."""

    title = "Conflict"


@dataclass(frozen=True, slots=True)
class FieldError:
    """One offending field of an input: its dotted path and what is wrong with it."""

    field: str
    message: str


class InvalidInput(SchedulerError):
    """A value is well-formed but not acceptable (bad cron, unknown dependency, cycle)."""

    title = "Invalid input"

    def __init__(self, detail: str, *, errors: tuple[FieldError, ...] = ()) -> None:
        super().__init__(detail)
        self.errors = errors

    @classmethod
    def for_field(cls, field: str, message: str) -> InvalidInput:
        """An error about one field, with the field named in the detail."""
        return cls(f"{field}: {message}", errors=(FieldError(field, message),))


class Unauthenticated(SchedulerError):
    """No credential, or one that is unknown, expired or revoked."""

    title = "Unauthenticated"


class PermissionDenied(SchedulerError):
    """The caller is known but lacks the permission the action needs."""

    title = "Permission denied"


class Unavailable(SchedulerError):
    """A backing service (database, queue) does not answer; retrying later may succeed."""

    title = "Service unavailable"

    def __init__(self, detail: str, *, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
        """Seconds before a retry has a chance, when known (a circuit breaker that is open says)."""
