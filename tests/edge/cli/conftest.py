"""A real `kx-edge serve` process for the command line's tests, and a way to run `kx-edge ...`.

The server runs in a temporary directory with no KX_EDGE_* or KLAVIYO_* variables (as a newcomer
runs it), and the commands run in the same directory, so they find its `var/operator-token`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.waiting import free_port, port_answers, wait_until

KX_EDGE = str(Path(sys.executable).with_name("kx-edge"))


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KX_EDGE_", "KLAVIYO_"))}
    return env | extra


@dataclass(frozen=True)
class Server:
    """A `kx-edge serve` process listening on `url`, started in `cwd`."""

    url: str
    cwd: Path

    @property
    def operator_token(self) -> str:
        return (self.cwd / "var" / "operator-token").read_text().strip()

    def api(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        request = urllib.request.Request(
            self.url + path,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {token or self.operator_token}"},
            method=method,
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def run(
        self, *args: str, env: Mapping[str, str] | None = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`kx-edge ARGS` in the server's directory (the commands' default address is 127.0.0.1:8787,
        so they are told this server's with --url where they take it)."""
        return subprocess.run(
            [KX_EDGE, *args],
            cwd=self.cwd,
            env=clean_env(**(env or {})),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    cwd = tmp_path_factory.mktemp("cli")
    port = free_port()
    log = cwd / "serve.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [KX_EDGE, "serve", "--port", str(port)], cwd=cwd, env=clean_env(), stdout=output, stderr=output
        )
    try:
        wait_until(
            lambda: port_answers(port) or process.poll() is not None, timeout=30, what="kx-edge to listen"
        )
        if process.poll() is not None:
            raise RuntimeError(f"kx-edge serve exited:\n{log.read_text()}")
        yield Server(f"http://127.0.0.1:{port}", cwd)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
