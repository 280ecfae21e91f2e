"""Redis in tests: one server, or the local Redis Cluster `.ci/redis-cluster` starts.

`RedisServer` is what a test is handed by the `redis_server` fixture (tests/conftest.py): the
URL and whether it is a cluster seed, with clients of the right kind and the settings that select
it. `ClusterNode` restarts one node of the cluster (SHUTDOWN NOSAVE, then the same command line,
so it rejoins from its nodes.conf) for the node-restart tests.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from edge.fleet.redis_client import RedisClient
from tests.waiting import wait_until

CLUSTER_URL = os.environ.get("KX_EDGE_TEST_REDIS_CLUSTER_URL", "redis://127.0.0.1:7101/0")
# Where .ci/redis-cluster keeps each node's data and nodes.conf (one directory per port).
CLUSTER_DIR = Path(
    os.environ.get("REDIS_CLUSTER_DIR") or Path(os.environ.get("TMPDIR", "/tmp")) / "kx-edge-redis-cluster"
)


def _seed(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=1)


def cluster_answers(url: str) -> bool:
    """Whether a cluster whose every slot is served answers at `url` (asked of the seed node)."""
    client = _seed(url)
    try:
        info: Any = client.execute_command("CLUSTER INFO")  # type: ignore[no-untyped-call]
        return isinstance(info, dict) and info.get("cluster_state") == "ok"
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def _slot_owners(url: str) -> list[tuple[int, int, int]]:
    """(first slot, last slot, master port) of every slot range."""
    client = _seed(url)
    try:
        ranges: Any = client.execute_command("CLUSTER SLOTS")  # type: ignore[no-untyped-call]
    finally:
        client.close()
    return [(int(r[0]), int(r[1]), int(r[2][1])) for r in ranges]


@dataclass(frozen=True)
class RedisServer:
    url: str
    cluster: bool

    @property
    def name(self) -> str:
        return "cluster" if self.cluster else "single"

    def client(self, **options: Any) -> RedisClient:
        """An async client of the right kind (the caller closes it)."""
        if self.cluster:
            return RedisCluster.from_url(self.url, **options)
        return aioredis.Redis.from_url(self.url, **options)

    def settings(self) -> dict[str, Any]:
        """The settings overrides that point the app at this Redis."""
        return {"redis_url": self.url, "redis_cluster": self.cluster}

    def environ(self) -> dict[str, str]:
        return {"KX_EDGE_REDIS_URL": self.url, "KX_EDGE_REDIS_CLUSTER": "true" if self.cluster else "false"}

    def delete_prefix(self, prefix: str) -> None:
        """Delete every key under `prefix` (on a cluster: on every master, key by key)."""
        if not self.cluster:
            client = redis.Redis.from_url(self.url)
            try:
                keys = list(client.scan_iter(match=prefix + "*", count=1000))
                if keys:
                    client.delete(*keys)
            finally:
                client.close()
            return
        for port in sorted({owner for _, _, owner in _slot_owners(self.url)}):
            node = redis.Redis(port=port)
            try:
                for key in list(node.scan_iter(match=prefix + "*", count=1000)):
                    node.delete(key)  # each key on the node that holds it
            finally:
                node.close()


@dataclass(frozen=True)
class ClusterNode:
    """One master of the local cluster, by port."""

    port: int
    directory: Path

    def answers(self) -> bool:
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2, socket_timeout=0.5)
        try:
            return bool(client.ping())
        except (redis.RedisError, OSError):
            return False
        finally:
            client.close()

    def stop(self) -> None:
        client = redis.Redis(port=self.port, socket_timeout=2)
        try:
            client.shutdown(nosave=True)
        except (redis.ConnectionError, OSError):
            pass  # the connection closes as the server exits
        finally:
            client.close()
        wait_until(lambda: not self.answers(), what=f"cluster node {self.port} to stop")

    def start(self) -> None:
        """The same command line as .ci/redis-cluster: it rejoins with its nodes.conf."""
        directory = str(self.directory)
        command = ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", str(self.port)]
        command += ["--dir", directory, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
        command += ["--cluster-node-timeout", "2000", "--cluster-require-full-coverage", "no"]
        command += ["--save", "", "--appendonly", "no", "--logfile", f"{directory}/redis.log"]
        command += ["--pidfile", f"{directory}/redis.pid"]
        subprocess.run(command, check=True, timeout=10)
        wait_until(self.answers, what=f"cluster node {self.port} to answer again")


def cluster_node_for_key(server: RedisServer, key: str) -> ClusterNode:
    """The master that serves `key`'s hash slot."""
    client = _seed(server.url)
    try:
        slot = int(client.execute_command("CLUSTER KEYSLOT", key))  # type: ignore[no-untyped-call]
    finally:
        client.close()
    port = next(owner for first, last, owner in _slot_owners(server.url) if first <= slot <= last)
    return ClusterNode(port, CLUSTER_DIR / str(port))
