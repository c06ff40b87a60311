"""The error hierarchy shared by every scheduler package.

Callers act on the *kind* of an error, never on its message: the API maps each kind to one HTTP
status in one place, the CLI to a one-line message and a non-zero exit.
"""

from scheduler_errors._errors import (
    Conflict,
    FieldError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    SchedulerError,
    Unauthenticated,
    Unavailable,
)

__all__ = [
    "Conflict",
    "FieldError",
    "InvalidInput",
    "NotFound",
    "PermissionDenied",
    "SchedulerError",
    "Unauthenticated",
    "Unavailable",
]
