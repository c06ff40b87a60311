"""Access control: API keys and the principals they stand for."""

from __future__ import annotations

from datetime import datetime, timedelta

from scheduler_domain import (
    ApiKey,
    ApiKeyRepository,
    Page,
    Principal,
    Role,
    check_limit,
    check_storable,
    generate_key,
    hash_key,
    page_in_memory,
)
from scheduler_errors import InvalidInput, Unauthenticated
from scheduler_foundation import Clock

MAX_KEY_NAME = 100
#: How long a key read from the store is trusted without reading it again (see `AccessControl`).
KEY_CACHE_TTL = timedelta(seconds=5)
#: At most this many keys are remembered; the oldest is forgotten first.
KEY_CACHE_SIZE = 1024


class IssuedKey:
    """A key just created: the stored record and the secret, which is never shown again."""

    def __init__(self, key: ApiKey, secret: str) -> None:
        self.key = key
        self.secret = secret


class AccessControl:
    """Creates, checks and revokes API keys.

    `authenticate` remembers each key it read from the store for `key_cache_ttl` (at most
    `key_cache_size` keys), so a busy client costs no lookup per request. A remembered key is
    still checked against the clock on every use, so it stops working the moment it expires. A key
    revoked through this object stops working at once; one revoked elsewhere (another API process,
    the CLI) when `forget_key` is told of it (the store announces changes: PostgreSQL), else within
    `key_cache_ttl`. Unknown keys are never remembered. A zero TTL reads the store on every request.
    """

    def __init__(
        self,
        *,
        keys: ApiKeyRepository,
        clock: Clock,
        key_cache_ttl: timedelta = KEY_CACHE_TTL,
        key_cache_size: int = KEY_CACHE_SIZE,
    ) -> None:
        self._keys = keys
        self._clock = clock
        self._known = _KnownKeys(ttl=key_cache_ttl, size=key_cache_size)
        self._lookups = {"cached": 0, "read": 0}

    @property
    def key_lookups(self) -> dict[str, int]:
        """How the keys presented since start were found: `cached` (remembered) or `read` (from
        the store, whether it knew them or not)."""
        return dict(self._lookups)

    async def authenticate(self, secret: str) -> Principal:
        """The principal an API key stands for; `Unauthenticated` if unknown, expired or revoked."""
        key_hash = hash_key(secret)
        now = self._clock.now()
        key = self._known.get(key_hash, now)
        self._lookups["cached" if key is not None else "read"] += 1
        if key is None:
            forgotten = self._known.forgotten  # a key forgotten while it is read is not kept
            key = await self._keys.find_by_hash(key_hash)
            if key is not None and self._known.forgotten == forgotten:
                self._known.put(key, now)
        if key is None or not key.usable_at(now):
            raise Unauthenticated("the API key is unknown, expired or revoked")
        return Principal(subject=f"apikey:{key.id}:{key.name}", role=key.role)

    async def issue(self, name: str, role: Role, *, expires_at: datetime | None = None) -> IssuedKey:
        """A new key; its secret is returned once and only its hash is stored."""
        if not name.strip() or len(name) > MAX_KEY_NAME:
            raise InvalidInput.for_field("name", f"must be 1 to {MAX_KEY_NAME} characters")
        check_storable("name", name)
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

    async def page_keys(self, *, limit: int, after_id: int | None = None) -> Page[ApiKey]:
        """One page of keys (hashes only), by id; `InvalidInput` for a bad limit."""
        return page_in_memory(
            await self._keys.all(), key=lambda key: key.id, after=after_id, limit=check_limit(limit)
        )

    async def revoke(self, key_id: int) -> None:
        """Revoke a key at once."""
        await self._keys.revoke(key_id, self._clock.now())
        self._known.forget(key_id)

    def forget_key(self, key_id: int | None) -> None:
        """Stop trusting a remembered key that changed elsewhere (revoked, deleted, its expiry or
        role changed): the next request with it reads the store. None: every remembered key."""
        if key_id is None:
            self._known.clear()
        else:
            self._known.forget(key_id)


class _KnownKeys:
    """Keys lately read from the store, by hash, each trusted until `ttl` after it was read."""

    def __init__(self, *, ttl: timedelta, size: int) -> None:
        self._ttl = ttl
        self._size = size
        self._keys: dict[str, tuple[ApiKey, datetime]] = {}
        #: How many times keys were forgotten: a read that began before one may be stale.
        self.forgotten = 0

    def get(self, key_hash: str, now: datetime) -> ApiKey | None:
        """The key read less than `ttl` ago, or None."""
        known = self._keys.get(key_hash)
        if known is None:
            return None
        key, read_at = known
        # A clock that stepped back must not stretch the trust either.
        if not read_at <= now < read_at + self._ttl:
            del self._keys[key_hash]
            return None
        return key

    def put(self, key: ApiKey, now: datetime) -> None:
        """Remember `key`, read from the store at `now`."""
        if self._ttl <= timedelta(0) or self._size <= 0:
            return
        self._keys.pop(key.key_hash, None)
        while len(self._keys) >= self._size:
            del self._keys[next(iter(self._keys))]
        self._keys[key.key_hash] = (key, now)

    def clear(self) -> None:
        """Stop trusting every key."""
        self.forgotten += 1
        self._keys.clear()

    def forget(self, key_id: int) -> None:
        """Stop trusting the key with this id."""
        self.forgotten += 1
        for key_hash in [h for h, (key, _) in self._keys.items() if key.id == key_id]:
            del self._keys[key_hash]
