"""Nodes of a fleet in tests: `kx-edge serve` processes, each with a data directory of its own,
sharing nothing but PostgreSQL (the test's own schema) and Redis (the test's own key prefix)."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.apps import BROWSER_UA
from tests.waiting import free_port, port_answers, wait_until

KX_EDGE = str(Path(sys.executable).with_name("kx-edge"))


@dataclass(frozen=True)
class FleetSettings:
    """What every node of one test's fleet is given (the shared stores and secrets)."""

    database_url: str
    redis: dict[str, str]  # KX_EDGE_REDIS_URL / KX_EDGE_REDIS_CLUSTER
    redis_prefix: str
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    operator_token: str = field(default_factory=lambda: "op_" + secrets.token_urlsafe(24))

    def environ(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KX_EDGE_", "KLAVIYO_"))}
        env |= self.redis
        env |= {
            "KX_EDGE_DATABASE_URL": self.database_url,
            "KX_EDGE_REDIS_PREFIX": self.redis_prefix,
            "KX_EDGE_SECRET_KEY": self.secret_key,
            "KX_EDGE_OPERATOR_TOKEN": self.operator_token,
            "KX_EDGE_ACCESS_LOG": "false",
            "KX_EDGE_LOG_FORMAT": "text",
        }
        return env | extra


@dataclass
class Node:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def call(
        self, path: str, method: str = "GET", body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "User-Agent": BROWSER_UA, **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def kill(self) -> None:
        """SIGKILL: the node vanishes without shutting anything down."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@contextmanager
def running_node(name: str, root: Path, env: dict[str, str], port: int | None = None) -> Iterator[Node]:
    """A node serving on `port` (default: a free one) from its own directory under `root` (its
    log kept there)."""
    directory = root / name
    directory.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log = directory / "node.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [KX_EDGE, "serve", "--port", str(port)],
            cwd=directory,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    node = Node(name, port, process, log)
    try:
        wait_until(
            lambda: port_answers(port) or process.poll() is not None,
            timeout=60,  # a loaded machine starts a node slowly: a generous bound
            what=f"node {name} to listen",
        )
        assert process.poll() is None, f"node {name} exited:\n{log.read_text(errors='replace')[-4000:]}"
        yield node
    finally:
        node.stop()


@contextmanager
def running_fleet(
    root: Path, envs: dict[str, dict[str, str]], ports: dict[str, int] | None = None
) -> Iterator[dict[str, Node]]:
    """Every named node of `envs`, started in turn (the first one migrates the schema)."""
    ports = ports or {}
    with ExitStack() as stack:
        yield {
            name: stack.enter_context(running_node(name, root, env, ports.get(name)))
            for name, env in envs.items()
        }
