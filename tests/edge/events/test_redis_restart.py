"""The Redis outbox after Redis restarts empty: it recreates its consumer group by itself and the
events appended afterwards are claimed (a real, throwaway redis-server on a free port)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis

from edge.events.outbox import NewEvent, VisitWrite
from edge.events.redis_outbox import RedisOutbox
from edge.events.triggers import Trigger
from tests.waiting import free_port, wait_until, wait_until_async

NOW = 1_800_000_000.0
# Skipped only off CI: in CI (which installs redis-server) a missing binary fails the test.
pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None and os.environ.get("CI", "").lower() != "true",
    reason="needs redis-server",
)


class ThrowawayRedis:
    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory

    def start(self) -> None:
        subprocess.run(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "yes", "--dir", str(self.directory), "--pidfile", str(self.directory / "redis.pid")],
            check=True, capture_output=True, timeout=10,
        )  # fmt: skip
        wait_until(self._answers, what="the throwaway Redis to answer")

    def stop(self) -> None:
        client = redis.Redis(port=self.port, socket_timeout=2)
        try:
            client.shutdown(nosave=True)
        except redis.ConnectionError:
            pass  # it went away while answering: stopped
        finally:
            client.close()
        wait_until(lambda: not self._answers(), what="the throwaway Redis to stop")

    def _answers(self) -> bool:
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False
        finally:
            client.close()


@pytest.fixture
def throwaway(tmp_path: Path) -> Iterator[ThrowawayRedis]:
    server = ThrowawayRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def client(throwaway: ThrowawayRedis) -> AsyncIterator[aioredis.Redis]:
    opened = aioredis.Redis(port=throwaway.port, socket_timeout=2)
    yield opened
    await opened.aclose()


def visit(uid: str) -> VisitWrite:
    event = NewEvent("site_a", Trigger.ENTERED_TEST, uid, b"{}", b"{}", NOW)
    return VisitWrite("site_a", int(NOW // 86_400), (event,))


async def test_a_redis_restarted_empty_gets_its_consumer_group_back(
    throwaway: ThrowawayRedis, client: aioredis.Redis
) -> None:
    outbox = RedisOutbox(client, "kxtest:")
    await outbox.append([visit("before")], {}, NOW)
    [before] = await outbox.claim(10, NOW)
    await outbox.settle(NOW, sent=[before])

    throwaway.stop()
    throwaway.start()  # empty: no stream, no group

    async def appended() -> bool:
        try:  # the client's old connection is gone: the first command may fail, the next reconnects
            return (await outbox.append([visit("after")], {}, NOW)).enqueued == 1
        except redis.ConnectionError:
            return False

    await wait_until_async(appended, what="an append after the restart")
    assert [c.unique_id for c in await outbox.claim(10, NOW)] == ["after"]
    assert await outbox.claim(10, NOW) == []  # and the group keeps working
