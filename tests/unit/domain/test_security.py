"""Roles, permissions and API keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scheduler_domain import ApiKey, Permission, Principal, Role, generate_key, hash_key

NOW = datetime(2026, 1, 5, tzinfo=UTC)
P = Permission
WRITES = {P.TASK_WRITE, P.TASK_EXECUTE, P.TASK_DELETE, P.WORKER_WRITE, P.SYSTEM_WRITE, P.CONFIG_WRITE}


def test_admin_can_do_everything() -> None:
    admin = Principal(subject="root", role=Role.ADMIN)

    assert all(admin.may(permission) for permission in Permission)


@pytest.mark.parametrize("permission", sorted(WRITES))
def test_readonly_cannot_write(permission: Permission) -> None:
    assert not Principal(subject="viewer", role=Role.READONLY).may(permission)


def test_readonly_can_read() -> None:
    assert Role.READONLY.permissions == {P.TASK_READ, P.WORKER_READ, P.SYSTEM_READ, P.CONFIG_READ}


def test_operator_manages_tasks_and_workers_but_not_the_system_or_config() -> None:
    permissions = Role.OPERATOR.permissions

    assert {P.TASK_READ, P.TASK_WRITE, P.TASK_EXECUTE, P.TASK_DELETE, P.WORKER_WRITE} <= permissions
    assert not permissions & {P.SYSTEM_WRITE, P.CONFIG_WRITE, P.CONFIG_READ}


def test_a_worker_may_register_and_heartbeat_only() -> None:
    assert Role.WORKER.permissions == {P.WORKER_READ, P.WORKER_WRITE}


def test_every_role_has_permissions() -> None:
    assert all(role.permissions for role in Role)


def test_keys_are_random_and_hashed_deterministically() -> None:
    first, second = generate_key(), generate_key()

    assert first != second
    assert first.startswith("sk_")
    assert hash_key(first) == hash_key(first)
    assert hash_key(first) != hash_key(second)
    assert len(hash_key(first)) == 64
    assert first not in hash_key(first)


def test_a_key_is_usable_until_it_expires() -> None:
    key = ApiKey(name="ci", role=Role.OPERATOR, key_hash="h", expires_at=NOW)

    assert key.usable_at(NOW - timedelta(seconds=1))
    assert not key.usable_at(NOW)


def test_a_revoked_key_is_never_usable() -> None:
    key = ApiKey(name="ci", role=Role.OPERATOR, key_hash="h", revoked_at=NOW)

    assert not key.usable_at(NOW - timedelta(days=1))


def test_a_key_without_expiry_stays_usable() -> None:
    assert ApiKey(name="ci", role=Role.ADMIN, key_hash="h").usable_at(NOW + timedelta(days=3650))
