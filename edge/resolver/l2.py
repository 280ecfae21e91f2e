"""The shared cache (L2) in Redis: membership per `_kx`, `_kx` -> profile id, and the lock that
lets one process in the fleet resolve a visitor while the others wait for its L2 value."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec

from edge.fleet.redis_client import RedisClient
from edge.resolver import keys
from edge.resolver.redis_guard import RedisGuard
from klaviyo import ConnectionRef

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class L2Entry(msgspec.Struct, array_like=True, frozen=True):
    """The stored value: kind (see `l1.Kind`), member segment ids, checked ids (None = all)."""

    kind: int
    members: list[str]
    checked: list[str] | None = None


_encode = msgspec.json.Encoder().encode
_decode_entry = msgspec.json.Decoder(L2Entry).decode


@dataclass(frozen=True, slots=True)
class L2Snapshot:
    entry: L2Entry | None
    ttl_s: float | None  # what is left of the entry's TTL
    profile_id: str | None
    filter_refused: bool


def _entry(raw: object, pttl: object) -> tuple[L2Entry | None, float | None]:
    if not isinstance(raw, bytes | str) or not isinstance(pttl, int) or pttl <= 0:
        return None, None
    try:
        return _decode_entry(raw), pttl / 1000
    except msgspec.DecodeError:
        return None, None  # written by another version: a miss


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode()
    return str(value)


class L2Store:
    def __init__(self, guard: RedisGuard, prefix: str) -> None:
        self._guard = guard
        self._prefix = prefix

    async def read(self, conn: ConnectionRef, kx: str) -> L2Snapshot:
        """Entry, its remaining TTL, the profile id and the account's filter flag: one round trip."""
        p, a, g = self._prefix, conn.account_id, conn.generation
        seg_key = keys.segments(p, a, g, kx)

        async def command(r: RedisClient) -> list[object]:
            pipe = r.pipeline(transaction=False)
            pipe.get(seg_key)
            pipe.pttl(seg_key)
            pipe.get(keys.profile_id(p, a, g, kx))
            # Queued as a plain command: a cluster pipeline runs its EXISTS/DEL/UNLINK methods at
            # once (split across slots) instead of queuing them.
            pipe.execute_command("EXISTS", keys.filter_refused(p, a))
            result: list[object] = await pipe.execute()
            return result

        raw, pttl, pid, refused = await self._guard.run(command)
        entry, ttl_s = _entry(raw, pttl)
        return L2Snapshot(entry, ttl_s, _text(pid), bool(refused))

    async def write(
        self,
        conn: ConnectionRef,
        kx: str,
        entry: L2Entry,
        ttl_s: float,
        *,
        profile_id: str | None = None,
        profile_id_ttl_s: float = 0,
    ) -> None:
        p, a, g = self._prefix, conn.account_id, conn.generation
        body = _encode(entry)

        async def command(r: RedisClient) -> None:
            pipe = r.pipeline(transaction=False)
            pipe.set(keys.segments(p, a, g, kx), body, px=max(1, int(ttl_s * 1000)))
            if profile_id is not None:
                pipe.set(keys.profile_id(p, a, g, kx), profile_id, px=int(profile_id_ttl_s * 1000))
            await pipe.execute()

        await self._guard.run(command)

    async def write_profile_id(
        self, conn: ConnectionRef, kx: str, profile_id: str | None, ttl_s: float
    ) -> None:
        """Store (or, with None, forget) the `_kx` -> profile id mapping."""
        key = keys.profile_id(self._prefix, conn.account_id, conn.generation, kx)

        async def command(r: RedisClient) -> None:
            if profile_id is None:
                await r.delete(key)
            else:
                await r.set(key, profile_id, px=int(ttl_s * 1000))

        await self._guard.run(command)

    async def lock_and_read(
        self, conn: ConnectionRef, kx: str, ttl_ms: int
    ) -> tuple[str | None, L2Entry | None, float | None, str | None]:
        """Try the resolution lock and read the entry in one round trip.

        Returns (token or None when another process holds the lock, entry, its remaining TTL,
        the profile id). Reading after locking closes the gap where the holder wrote and
        released in between; the profile id spares a second profile lookup after a holder that
        stopped at a refused segments call.
        """
        token = secrets.token_hex(8)
        p, a, g = self._prefix, conn.account_id, conn.generation
        seg_key = keys.segments(p, a, g, kx)

        async def command(r: RedisClient) -> list[object]:
            pipe = r.pipeline(transaction=False)
            pipe.set(keys.lock(p, a, g, kx), token, nx=True, px=ttl_ms)
            pipe.get(seg_key)
            pipe.pttl(seg_key)
            pipe.get(keys.profile_id(p, a, g, kx))
            result: list[object] = await pipe.execute()
            return result

        locked, raw, pttl, pid = await self._guard.run(command)
        entry, ttl_s = _entry(raw, pttl)
        return (token if locked else None), entry, ttl_s, _text(pid)

    async def release_lock(self, conn: ConnectionRef, kx: str, token: str) -> None:
        key = keys.lock(self._prefix, conn.account_id, conn.generation, kx)

        async def command(r: RedisClient) -> object:
            return await r.eval(_RELEASE, 1, key, token)

        await self._guard.run(command)

    async def remember_filter_refused(self, account_id: str, ttl_s: int) -> None:
        key = keys.filter_refused(self._prefix, account_id)

        async def command(r: RedisClient) -> object:
            return await r.set(key, b"1", ex=ttl_s)

        await self._guard.run(command)

    async def forget_account(self, account_id: str) -> int:
        """Delete every cached membership and profile id of an account (disconnect)."""
        patterns: Sequence[str] = keys.account_pattern(self._prefix, account_id)

        async def command(r: RedisClient) -> int:
            deleted = 0
            for pattern in patterns:
                batch: list[bytes | str] = []
                async for key in r.scan_iter(match=pattern, count=1000):
                    batch.append(key)
                    if len(batch) >= 500:
                        deleted += await r.unlink(*batch)
                        batch = []
                if batch:
                    deleted += await r.unlink(*batch)
            return deleted

        return await self._guard.run(command, timeout_s=30.0)
