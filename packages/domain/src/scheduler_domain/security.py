"""Roles, permissions and API keys."""

from __future__ import annotations

import enum
import hashlib
import secrets
from datetime import datetime

from msgspec import Struct

KEY_PREFIX = "sk_"


class Permission(enum.StrEnum):
    """One thing a caller may do."""

    TASK_READ = "task:read"
    TASK_WRITE = "task:write"
    TASK_EXECUTE = "task:execute"
    TASK_DELETE = "task:delete"
    WORKER_READ = "worker:read"
    WORKER_WRITE = "worker:write"
    SYSTEM_READ = "system:read"
    SYSTEM_WRITE = "system:write"
    CONFIG_READ = "config:read"
    CONFIG_WRITE = "config:write"


class Role(enum.StrEnum):
    """A named set of permissions."""

    ADMIN = "admin"
    OPERATOR = "operator"
    READONLY = "readonly"
    WORKER = "worker"

    @property
    def permissions(self) -> frozenset[Permission]:
        """What a holder of this role may do."""
        return _ROLE_PERMISSIONS[self]


_P = Permission
_ROLE_PERMISSIONS = {
    Role.ADMIN: frozenset(Permission),
    Role.OPERATOR: frozenset(
        {
            _P.TASK_READ,
            _P.TASK_WRITE,
            _P.TASK_EXECUTE,
            _P.TASK_DELETE,
            _P.WORKER_READ,
            _P.WORKER_WRITE,
            _P.SYSTEM_READ,
        }
    ),
    Role.READONLY: frozenset({_P.TASK_READ, _P.WORKER_READ, _P.SYSTEM_READ, _P.CONFIG_READ}),
    # A worker registers, heartbeats and deregisters; it gets its runs from the queue, so it
    # reads no task: a worker key (kept on every worker host) reads no task's arguments.
    Role.WORKER: frozenset({_P.WORKER_READ, _P.WORKER_WRITE}),
}


def hash_key(secret: str) -> str:
    """The stored form of an API key. Keys are 256-bit random, so one SHA-256 suffices."""
    return hashlib.sha256(secret.encode()).hexdigest()


def generate_key() -> str:
    """A new random API key secret."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


class ApiKey(Struct, frozen=True, kw_only=True):
    """A stored API key: never the secret, only its hash."""

    name: str
    role: Role
    key_hash: str
    id: int = 0
    created_at: datetime | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    def usable_at(self, now: datetime) -> bool:
        """True unless revoked or expired at `now`."""
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or now < self.expires_at


class Principal(Struct, frozen=True, kw_only=True):
    """Who is calling, and what they may do."""

    subject: str
    role: Role

    def may(self, permission: Permission) -> bool:
        """True when the principal holds `permission`."""
        return permission in self.role.permissions
