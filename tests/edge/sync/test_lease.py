"""One syncer per account across the fleet: a Redis lease, handed over when its holder dies or
stops, and fenced writes that a worker which lost it cannot land."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.asyncio import Redis

from edge.resolver import Identified, Source
from edge.resolver.metrics import ResolverMetrics
from edge.resolver.redis_guard import RedisGuard
from edge.sync import SegmentRecord, keys
from edge.sync.lease import RedisLease
from edge.sync.redis_store import RedisStore
from tests.cluster import RedisServer, cluster_node_for_key
from tests.edge.sync.conftest import ACCOUNT, CONN, SEG_A, MakePair, Sandbox, WallClock, fresh, iso, kx_of
from tests.waiting import wait_until, wait_until_async

pytestmark = pytest.mark.redis
ROOT = Path(__file__).resolve().parents[3]
A = frozenset({SEG_A})


@pytest.mark.parametrize("backend", ["redis"], indirect=True)
async def test_one_worker_syncs_and_the_other_takes_over_when_it_stops(
    make_pair: MakePair, sandbox: Sandbox, wall: WallClock, backend: str
) -> None:
    first, second = await make_pair(), await make_pair()
    for pair in (first, second):
        pair.sync.set_site_targets(CONN.site_id, CONN, A)
    await first.wait_status(SEG_A, "the first full sync", fresh)
    holders = [p for p in (first, second) if p.sync.holds(ACCOUNT)]
    assert len(holders) == 1
    holder = holders[0]
    standby = second if holder is first else first
    assert sandbox.members_calls() == 3  # synced once, not once per worker

    # The standby answers from the shared index too (its copy of the records is polled).
    async def standby_uses_index() -> bool:
        return standby.sync.index.stamp(ACCOUNT, A) is not None

    await wait_until_async(standby_uses_index, timeout=5, what="the standby to see the index")
    result = await standby.resolver.resolve(CONN, kx_of(4), A)
    assert isinstance(result, Identified) and result.segment_ids == A and result.info.source is Source.INDEX

    await holder.sync.aclose()  # a graceful stop gives the lease up at once

    async def taken_over() -> bool:
        standby.sync.poke()
        return standby.sync.holds(ACCOUNT)

    await wait_until_async(taken_over, timeout=5, what="the standby to take over")
    wall.advance(61)
    sandbox.state.add_member(SEG_A, sandbox.profiles[295], joined_at=wall.now - 1)
    await standby.wait_status(
        SEG_A, "an incremental pass", lambda s: s["last_incremental_sync_at"] == iso(wall.now)
    )
    assert SEG_A in (await standby.sync.index.members(ACCOUNT, A, sandbox.profiles[295]) or ())


@pytest.mark.parametrize("backend", ["redis"], indirect=True)
async def test_writes_of_a_worker_that_lost_the_lease_are_refused(
    make_pair: MakePair, backend: str, redis_prefix: str
) -> None:
    pair = await make_pair()
    store = pair.sync.store
    assert isinstance(store, RedisStore) and pair.redis is not None
    lease = keys.lease(redis_prefix, ACCOUNT)
    await pair.redis.set(lease, "someone-else", px=60_000)
    assert not await store.write_record(ACCOUNT, SEG_A, SegmentRecord(members=1), "my-old-token")
    write = store.begin_full(ACCOUNT, SEG_A, "my-old-token")
    await write.add(["01AAAAAAAAAAAAAAAAAAAAAAAA"])
    assert await write.commit() is None  # not swapped in, and the half-built set is gone
    assert await pair.redis.keys(f"{redis_prefix}members*") == []
    assert await pair.redis.hgetall(keys.records(redis_prefix, ACCOUNT)) == {}


class Worker:
    def __init__(self, command: list[str]) -> None:
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.strip())

    @property
    def holding(self) -> bool:
        states = [line for line in self.lines if line in ("holder", "standby")]
        return bool(states) and states[-1] == "holder"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self._reader.join(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def workers(sandbox: Sandbox, redis_server: RedisServer, redis_prefix: str) -> Iterator[list[Worker]]:
    """Two worker processes on one Redis, or on the cluster."""
    command = [
        sys.executable,
        "-m",
        "tests.edge.sync.sync_worker",
        sandbox.url,
        redis_server.url,
        redis_prefix,
    ]
    started = [Worker([*command, sandbox.token, redis_server.name]) for _ in range(2)]
    try:
        yield started
    finally:
        for worker in started:
            worker.stop()


def test_the_lease_is_handed_over_when_the_holder_dies(
    workers: list[Worker], sandbox: Sandbox, redis_server: RedisServer, redis_prefix: str
) -> None:
    # The account's keys share one hash slot: on a cluster, one node holds them all.
    client = (
        redis.Redis(port=cluster_node_for_key(redis_server, keys.lease(redis_prefix, ACCOUNT)).port)
        if redis_server.cluster
        else redis.Redis.from_url(redis_server.url)
    )
    try:
        wait_until(lambda: all("ready" in w.lines for w in workers), timeout=20, what="both workers")
        wait_until(lambda: any(w.holding for w in workers), timeout=10, what="one worker to hold the lease")
        holder, other = sorted(workers, key=lambda w: not w.holding)
        assert not other.holding

        def synced() -> bool:
            raw = client.hget(keys.records(redis_prefix, ACCOUNT), SEG_A)
            return raw is not None and b'"fresh"' in raw

        wait_until(synced, timeout=10, what="the holder's full sync")
        assert client.scard(keys.members(redis_prefix, ACCOUNT, SEG_A)) == 250

        holder.process.kill()  # dies without releasing anything
        holder.process.wait(timeout=10)
        # The dead holder's lease expires (TTL 1 s) and the other worker takes it over by itself.
        wait_until(lambda: other.holding, timeout=10, what="the other worker to take over")

        # The new holder goes on syncing: a new member shows up through its incremental passes.
        newcomer = sandbox.profiles[296]
        sandbox.state.add_member(SEG_A, newcomer, joined_at=time.time())
        members = keys.members(redis_prefix, ACCOUNT, SEG_A)
        wait_until(lambda: bool(client.sismember(members, newcomer)), timeout=10, what="the newcomer")
        assert other.process.poll() is None
    finally:
        client.close()


async def test_a_lease_is_taken_once_renewed_while_held_and_given_up(
    redis_url: str, redis_prefix: str
) -> None:
    client = Redis.from_url(redis_url)
    try:
        guard = RedisGuard(client, ResolverMetrics())
        key = keys.lease(redis_prefix, ACCOUNT)
        mine, theirs = RedisLease(guard, key, 5.0), RedisLease(guard, key, 5.0)
        assert await mine.hold() and not await theirs.hold()
        assert await client.get(key) == mine.token.encode()  # the fencing token is the key's value
        await client.pexpire(key, 100)
        assert await mine.hold()  # renewing puts the whole TTL back
        assert await client.pttl(key) > 1000
        await client.set(key, "someone-else", px=5000)  # lost without noticing (a long pause)
        assert not await mine.hold()
        await client.delete(key)
        assert await theirs.hold()
        await theirs.release()
        assert await client.exists(key) == 0
        await mine.release()  # holding nothing: a no-op
    finally:
        await client.aclose()
