"""AccessControl against the fake key store: secrets shown once, only hashes kept."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import msgspec
import pytest

from scheduler_application import AccessControl
from scheduler_application.access import KEY_CACHE_TTL
from scheduler_domain import ApiKey, Role, hash_key
from scheduler_errors import InvalidInput, NotFound, Unauthenticated
from scheduler_testing import FakeApiKeyRepository, FakeClock

from .conftest import START


class TestIssue:
    async def test_the_secret_is_returned_once_and_only_its_hash_stored(
        self, access: AccessControl, keys: FakeApiKeyRepository
    ) -> None:
        issued = await access.issue("ci", Role.OPERATOR)

        [stored] = keys.rows.values()
        assert stored == issued.key
        assert stored.key_hash == hash_key(issued.secret)
        assert (stored.name, stored.role, stored.created_at) == ("ci", Role.OPERATOR, START)
        assert issued.secret.encode() not in msgspec.json.encode(stored)
        listed = await access.list_keys()
        assert issued.secret.encode() not in msgspec.json.encode(listed)

    async def test_every_key_has_its_own_secret(self, access: AccessControl) -> None:
        first = await access.issue("a", Role.READONLY)
        second = await access.issue("b", Role.READONLY)

        assert first.secret != second.secret

    @pytest.mark.parametrize("name", ["", "   ", "x" * 101])
    async def test_a_bad_name_is_refused(
        self, access: AccessControl, keys: FakeApiKeyRepository, name: str
    ) -> None:
        with pytest.raises(InvalidInput) as caught:
            await access.issue(name, Role.ADMIN)

        assert caught.value.errors[0].field == "name"
        assert keys.rows == {}

    @pytest.mark.parametrize("offset", [timedelta(0), timedelta(seconds=-1)])
    async def test_an_expiry_in_the_past_is_refused(
        self, access: AccessControl, keys: FakeApiKeyRepository, offset: timedelta
    ) -> None:
        with pytest.raises(InvalidInput) as caught:
            await access.issue("old", Role.ADMIN, expires_at=START + offset)

        assert caught.value.errors[0].field == "expires_at"
        assert keys.rows == {}


class TestAuthenticate:
    async def test_a_valid_key_stands_for_its_role(self, access: AccessControl) -> None:
        issued = await access.issue("deployer", Role.OPERATOR)

        principal = await access.authenticate(issued.secret)

        assert principal.role is Role.OPERATOR
        assert principal.subject == f"apikey:{issued.key.id}:deployer"

    async def test_an_unknown_key_is_refused(self, access: AccessControl) -> None:
        await access.issue("real", Role.ADMIN)

        with pytest.raises(Unauthenticated):
            await access.authenticate("sk_made_up")

    async def test_an_expired_key_is_refused(self, access: AccessControl, clock: FakeClock) -> None:
        issued = await access.issue("temp", Role.ADMIN, expires_at=START + timedelta(hours=1))
        clock.advance(hours=1, seconds=-1)
        assert (await access.authenticate(issued.secret)).role is Role.ADMIN

        clock.advance(1)

        with pytest.raises(Unauthenticated):
            await access.authenticate(issued.secret)

    async def test_a_revoked_key_is_refused(self, access: AccessControl, keys: FakeApiKeyRepository) -> None:
        issued = await access.issue("leaked", Role.ADMIN)

        await access.revoke(issued.key.id)

        assert keys.rows[issued.key.id].revoked_at == START
        with pytest.raises(Unauthenticated):
            await access.authenticate(issued.secret)

    async def test_revoking_an_unknown_key_is_not_found(self, access: AccessControl) -> None:
        with pytest.raises(NotFound):
            await access.revoke(12)


class TestRememberedKeys:
    """Keys read from the store are trusted for `key_cache_ttl`; expiry is checked on every use."""

    async def test_lookups_are_counted_by_where_the_key_was_found(
        self, access: AccessControl, clock: FakeClock
    ) -> None:
        issued = await access.issue("ci", Role.OPERATOR)
        for _ in range(3):
            await access.authenticate(issued.secret)
        clock.advance(KEY_CACHE_TTL.total_seconds())
        await access.authenticate(issued.secret)
        with pytest.raises(Unauthenticated):
            await access.authenticate("sk_unknown")

        assert access.key_lookups == {"cached": 2, "read": 3}

    async def test_a_key_revoked_in_the_store_works_until_the_ttl_runs_out(
        self, access: AccessControl, keys: FakeApiKeyRepository, clock: FakeClock
    ) -> None:
        issued = await access.issue("ci", Role.OPERATOR)
        await access.authenticate(issued.secret)
        await keys.revoke(issued.key.id, clock.now())  # as another API process would

        clock.advance(KEY_CACHE_TTL.total_seconds() - 0.001)
        assert (await access.authenticate(issued.secret)).role is Role.OPERATOR

        clock.advance(0.001)
        with pytest.raises(Unauthenticated):
            await access.authenticate(issued.secret)

    async def test_a_remembered_key_is_refused_the_moment_it_expires(
        self, access: AccessControl, clock: FakeClock
    ) -> None:
        issued = await access.issue("temp", Role.ADMIN, expires_at=START + timedelta(seconds=2))
        await access.authenticate(issued.secret)

        clock.advance(2)

        with pytest.raises(Unauthenticated):
            await access.authenticate(issued.secret)

    async def test_a_remembered_key_revoked_here_is_refused_at_once(self, access: AccessControl) -> None:
        issued = await access.issue("leaked", Role.ADMIN)
        await access.authenticate(issued.secret)

        await access.revoke(issued.key.id)

        with pytest.raises(Unauthenticated):
            await access.authenticate(issued.secret)

    async def test_an_unknown_key_is_not_remembered(
        self, access: AccessControl, keys: FakeApiKeyRepository, clock: FakeClock
    ) -> None:
        with pytest.raises(Unauthenticated):
            await access.authenticate("sk_not_yet")

        await keys.add(
            ApiKey(name="late", role=Role.READONLY, key_hash=hash_key("sk_not_yet"), created_at=START)
        )

        assert (await access.authenticate("sk_not_yet")).role is Role.READONLY

    async def test_with_a_zero_ttl_every_request_reads_the_store(
        self, keys: FakeApiKeyRepository, clock: FakeClock
    ) -> None:
        access = AccessControl(keys=keys, clock=clock, key_cache_ttl=timedelta(0))
        issued = await access.issue("ci", Role.OPERATOR)
        await access.authenticate(issued.secret)

        await keys.revoke(issued.key.id, clock.now())

        with pytest.raises(Unauthenticated):
            await access.authenticate(issued.secret)

    async def test_the_oldest_key_is_forgotten_when_full(
        self, keys: FakeApiKeyRepository, clock: FakeClock
    ) -> None:
        access = AccessControl(keys=keys, clock=clock, key_cache_size=2)
        first, second, third = [await access.issue(name, Role.READONLY) for name in ("a", "b", "c")]
        for issued in (first, second, third):
            await access.authenticate(issued.secret)

        for issued in (first, third):
            await keys.revoke(issued.key.id, clock.now())

        with pytest.raises(Unauthenticated):
            await access.authenticate(first.secret)  # forgotten: read again, revoked
        assert (await access.authenticate(third.secret)).role is Role.READONLY  # still remembered

    async def test_a_clock_stepping_back_does_not_stretch_the_trust(
        self, access: AccessControl, keys: FakeApiKeyRepository, clock: FakeClock
    ) -> None:
        issued = await access.issue("ci", Role.OPERATOR)
        await access.authenticate(issued.secret)
        await keys.revoke(issued.key.id, clock.now())

        clock.advance(-60)

        with pytest.raises(Unauthenticated):
            await access.authenticate(issued.secret)


class TestAdminKeys:
    async def test_bootstrap_creates_an_admin_key_on_an_empty_store(
        self, access: AccessControl, keys: FakeApiKeyRepository
    ) -> None:
        issued = await access.bootstrap_admin_key()

        assert issued is not None
        assert (await access.authenticate(issued.secret)).role is Role.ADMIN
        assert len(keys.rows) == 1

    async def test_bootstrap_does_nothing_the_second_time(
        self, access: AccessControl, keys: FakeApiKeyRepository
    ) -> None:
        await access.bootstrap_admin_key()

        assert await access.bootstrap_admin_key() is None
        assert len(keys.rows) == 1

    async def test_bootstrap_does_nothing_when_any_key_exists(
        self, access: AccessControl, keys: FakeApiKeyRepository
    ) -> None:
        revoked = await access.issue("old", Role.READONLY)
        await access.revoke(revoked.key.id)

        assert await access.bootstrap_admin_key() is None
        assert list(keys.rows) == [revoked.key.id]

    async def test_ensure_admin_key_is_idempotent(
        self, access: AccessControl, keys: FakeApiKeyRepository
    ) -> None:
        await access.ensure_admin_key("sk_configured_secret")
        await access.ensure_admin_key("sk_configured_secret")

        [stored] = keys.rows.values()
        assert (stored.role, stored.key_hash) == (Role.ADMIN, hash_key("sk_configured_secret"))
        assert (await access.authenticate("sk_configured_secret")).role is Role.ADMIN

    async def test_ensure_admin_key_adds_to_existing_keys(
        self, access: AccessControl, keys: FakeApiKeyRepository
    ) -> None:
        await access.issue("ci", Role.OPERATOR)

        await access.ensure_admin_key("sk_configured_secret")

        assert sorted(key.role for key in keys.rows.values()) == [Role.ADMIN, Role.OPERATOR]


class SlowKeys(FakeApiKeyRepository):
    """Keys in memory; a lookup waits for `go` once `hold` is set, as a slow database would."""

    def __init__(self) -> None:
        super().__init__()
        self.hold = False
        self.reading = asyncio.Event()
        self.go = asyncio.Event()

    async def find_by_hash(self, key_hash: str) -> ApiKey | None:
        found = await super().find_by_hash(key_hash)
        if self.hold:
            self.reading.set()
            await self.go.wait()
        return found


async def test_a_key_forgotten_while_it_is_read_is_not_remembered_as_it_was() -> None:
    keys = SlowKeys()
    control = AccessControl(keys=keys, clock=FakeClock(START), key_cache_ttl=timedelta(hours=1))
    issued = await control.issue("ci", Role.READONLY)
    keys.hold = True
    reading = asyncio.create_task(control.authenticate(issued.secret))
    await keys.reading.wait()  # it read the key while still valid

    await keys.revoke(issued.key.id, START)  # revoked elsewhere, and announced
    control.forget_key(issued.key.id)
    keys.hold = False
    keys.go.set()
    await reading  # answered as read: valid at that moment

    with pytest.raises(Unauthenticated):
        await control.authenticate(issued.secret)  # not trusted from that stale read
