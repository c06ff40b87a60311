"""Access control: API keys and the principals they stand for."""

from __future__ import annotations

from datetime import datetime

from scheduler_domain import ApiKey, ApiKeyRepository, Principal, Role, generate_key, hash_key
from scheduler_errors import InvalidInput, Unauthenticated
from scheduler_foundation import Clock

MAX_KEY_NAME = 100


class IssuedKey:
    """A key just created: the stored record and the secret, which is never shown again."""

    def __init__(self, key: ApiKey, secret: str) -> None:
        self.key = key
        self.secret = secret


class AccessControl:
    """Creates, checks and revokes API keys."""

    def __init__(self, *, keys: ApiKeyRepository, clock: Clock) -> None:
        self._keys = keys
        self._clock = clock

    async def authenticate(self, secret: str) -> Principal:
        """The principal an API key stands for; `Unauthenticated` if unknown, expired or revoked."""
        key = await self._keys.find_by_hash(hash_key(secret))
        if key is None or not key.usable_at(self._clock.now()):
            raise Unauthenticated("the API key is unknown, expired or revoked")
        return Principal(subject=f"apikey:{key.id}:{key.name}", role=key.role)

    async def issue(self, name: str, role: Role, *, expires_at: datetime | None = None) -> IssuedKey:
        """A new key; its secret is returned once and only its hash is stored."""
        if not name.strip() or len(name) > MAX_KEY_NAME:
            raise InvalidInput.for_field("name", f"must be 1 to {MAX_KEY_NAME} characters")
        now = self._clock.now()
        if expires_at is not None and expires_at <= now:
            raise InvalidInput.for_field("expires_at", "must be in the future")
        secret = generate_key()
        key = ApiKey(name=name, role=role, key_hash=hash_key(secret), created_at=now, expires_at=expires_at)
        return IssuedKey(await self._keys.add(key), secret)

    async def ensure_admin_key(self, secret: str) -> None:
        """Make sure an admin key with exactly this secret exists (from configuration)."""
        if await self._keys.find_by_hash(hash_key(secret)) is not None:
            return
        key = ApiKey(
            name="configured-admin", role=Role.ADMIN, key_hash=hash_key(secret), created_at=self._clock.now()
        )
        await self._keys.add(key)

    async def bootstrap_admin_key(self) -> IssuedKey | None:
        """On a store with no key at all, create an admin key; None when keys exist already."""
        if await self._keys.count() > 0:
            return None
        return await self.issue("bootstrap-admin", Role.ADMIN)

    async def list_keys(self) -> list[ApiKey]:
        """Every key (hashes only)."""
        return await self._keys.all()

    async def revoke(self, key_id: int) -> None:
        """Revoke a key at once."""
        await self._keys.revoke(key_id, self._clock.now())
