"""`kx-edge serve` logs text lines on a terminal and JSON lines into a pipe (log_format auto)."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import time
from pathlib import Path

from tests.edge.cli.conftest import KX_EDGE, clean_env
from tests.waiting import free_port

READY = b"Application startup complete"


def _read_until(fd: int, marker: bytes, timeout: float = 30.0) -> bytes:
    """What `fd` gives until `marker` appears (bounded by `timeout`)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {marker!r} within {timeout}s: {seen[-2000:]!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the other end closed
                break
            if not chunk:
                break
            seen += chunk
    return seen


def _serve(cwd: Path, stderr_fd: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [KX_EDGE, "serve", "--port", str(free_port())], cwd=cwd, env=clean_env(),
        stdout=subprocess.DEVNULL, stderr=stderr_fd,
    )  # fmt: skip


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=20)


def test_on_a_terminal_the_lines_are_for_people(tmp_path: Path) -> None:
    main, child = pty.openpty()
    process = _serve(tmp_path, child)
    os.close(child)
    try:
        output = _read_until(main, READY).decode(errors="replace")
    finally:
        _stop(process)
        os.close(main)
    lines = [line for line in output.splitlines() if "uvicorn.error" in line or "kx_edge" in line]
    assert lines, output
    assert not any(line.lstrip().startswith("{") for line in lines), output
    assert any(" INFO kx_edge.app kx-edge ready" in line for line in lines), output


def test_into_a_pipe_the_lines_are_json(tmp_path: Path) -> None:
    read, write = os.pipe()
    process = _serve(tmp_path, write)
    os.close(write)
    try:
        output = _read_until(read, READY).decode()
    finally:
        _stop(process)
        os.close(read)
    logged = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert any(line["msg"] == "kx-edge ready" for line in logged), output
