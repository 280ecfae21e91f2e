"""Each response in one write (`edge.web.one_write`): the transport joins a response's head and
body, sends a lone write at the end of the loop's pass, keeps the order; served by a real
uvicorn, every kind of response still arrives whole."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from edge.cli import serve as serve_module
from edge.settings import load_settings
from edge.web.one_write import MAX_JOINED_BYTES, HeadHoldingTransport, OneWriteHttpToolsProtocol
from tests.waiting import wait_until


class RecordingTransport:
    """The calls a transport gets, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.calls.append(("write", bytes(data)))

    def writelines(self, data: list[bytes]) -> None:
        self.calls.append(("writelines", list(data)))

    def close(self) -> None:
        self.calls.append(("close", None))
        self.closing = True

    def abort(self) -> None:
        self.calls.append(("abort", None))
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return 0

    @property
    def writes(self) -> list[bytes]:
        return [data for name, data in self.calls if name == "write"]


def holding() -> tuple[HeadHoldingTransport, RecordingTransport]:
    inner = RecordingTransport()
    return HeadHoldingTransport(inner, asyncio.get_running_loop()), inner  # type: ignore[arg-type]


async def test_a_head_and_its_body_leave_in_one_write() -> None:
    transport, inner = holding()
    transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    assert inner.writes == []
    assert transport.get_write_buffer_size() == 38
    transport.write(b"{}")
    assert inner.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]
    await asyncio.sleep(0)  # the pass ends: nothing more to send
    assert len(inner.writes) == 1


async def test_a_lone_write_leaves_when_the_loop_pass_ends() -> None:
    transport, inner = holding()
    transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")  # a HEAD answer: no body write
    assert inner.writes == []
    await asyncio.sleep(0)
    assert inner.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"]


async def test_writes_keep_their_order_across_passes() -> None:
    transport, inner = holding()
    sent = [f"part {i};".encode() for i in range(7)]
    for index, part in enumerate(sent):
        transport.write(part)
        if index % 3 == 2:
            await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert b"".join(inner.writes) == b"".join(sent)
    assert len(inner.writes) < len(sent)


async def test_large_writes_are_not_copied_together() -> None:
    transport, inner = holding()
    head, body = b"HTTP/1.1 200 OK\r\n\r\n", b"x" * MAX_JOINED_BYTES
    transport.write(head)
    transport.write(body)
    assert inner.writes == [head, body]


async def test_close_writelines_and_abort() -> None:
    transport, inner = holding()
    transport.write(b"head")
    transport.writelines([b"a", b"b"])
    assert inner.calls == [("write", b"head"), ("writelines", [b"a", b"b"])]
    transport.write(b"last")
    transport.close()
    assert inner.calls[-2:] == [("write", b"last"), ("close", None)]

    transport, inner = holding()
    transport.write(b"never sent")
    transport.abort()
    await asyncio.sleep(0)
    assert inner.calls == [("abort", None)]


def test_kx_edge_serve_runs_uvicorn_with_the_one_write_protocol(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: seen.update(options))
    monkeypatch.chdir(tmp_path)
    for name in ("KX_EDGE_PUBLIC_URL", "KX_EDGE_WORKER_PROCESSES"):  # serve sets them for its workers
        monkeypatch.setenv(name, "")
    loaded = load_settings(environ={"KX_EDGE_DATA_DIR": str(tmp_path)})
    assert serve_module.serve(loaded, host="127.0.0.1", port=1, workers=1, demo=False, config_path=None) == 0
    assert seen["http"] is OneWriteHttpToolsProtocol and seen["loop"] == "uvloop"


# --- served by a real uvicorn ------------------------------------------------------------------


async def chunks() -> AsyncIterator[bytes]:
    for index in range(3):
        await asyncio.sleep(0)
        yield f"chunk {index}\n".encode()


async def echo(request: Request) -> Response:
    return Response(await request.body(), media_type="application/octet-stream")


APP = Starlette(
    routes=[
        Route("/json", lambda request: JSONResponse({"hello": "world"}), methods=["GET", "HEAD"]),
        Route("/stream", lambda request: StreamingResponse(chunks(), media_type="text/plain")),
        Route("/large", lambda request: Response(b"L" * 200_000, media_type="text/plain")),
        Route("/empty", lambda request: Response(status_code=204)),
        Route("/echo", echo, methods=["POST"]),
    ]
)


@contextmanager
def one_write_server() -> Iterator[int]:
    config = uvicorn.Config(
        APP, host="127.0.0.1", port=0, loop="uvloop", http=OneWriteHttpToolsProtocol, ws="none",
        lifespan="off", log_level="warning", access_log=False, timeout_graceful_shutdown=1,
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started or not thread.is_alive(), timeout=15, what="uvicorn start")
    assert server.started
    try:
        yield int(server.servers[0].sockets[0].getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def exchange(port: int, raw: bytes, *, responses: int) -> list[tuple[bytes, bytes]]:
    """Send `raw` on one connection and read `responses` responses: (head, body) each."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        buffer = b""
        found: list[tuple[bytes, bytes]] = []
        while len(found) < responses:
            while b"\r\n\r\n" not in buffer:
                buffer += _recv(sock)
            head, buffer = buffer.split(b"\r\n\r\n", 1)
            headers = dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:] if b": " in line)
            if b"transfer-encoding" in headers:
                while b"0\r\n\r\n" not in buffer:
                    buffer += _recv(sock)
                chunked, buffer = buffer.split(b"0\r\n\r\n", 1)
                found.append((head, _unchunk(chunked)))
                continue
            length = (
                0
                if head.startswith(b"HTTP/1.1 204") or b"HEAD" in raw.split(b"\r\n")[0]
                else int(headers[b"content-length"])
            )
            while len(buffer) < length:
                buffer += _recv(sock)
            found.append((head, buffer[:length]))
            buffer = buffer[length:]
        return found


def _recv(sock: socket.socket) -> bytes:
    data = sock.recv(65536)
    if not data:
        raise AssertionError("the server closed the connection early")
    return data


def _unchunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, data = data.split(b"\r\n", 1)
        size = int(size_line, 16)
        out, data = out + data[:size], data[size + 2 :]
    return out


def test_every_kind_of_response_arrives_whole_and_in_order() -> None:
    with one_write_server() as port:
        pipelined = (
            b"GET /json HTTP/1.1\r\nHost: t\r\n\r\n"
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
            b"GET /empty HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET /large HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET /json HTTP/1.1\r\nHost: t\r\n\r\n"
        )
        answers = exchange(port, pipelined, responses=6)
        assert [head.split(b"\r\n")[0] for head, _ in answers] == [b"HTTP/1.1 200 OK"] * 2 + [
            b"HTTP/1.1 204 No Content"
        ] + [b"HTTP/1.1 200 OK"] * 3
        assert [body for _, body in answers] == [
            b'{"hello":"world"}', b"hello", b"", b"chunk 0\nchunk 1\nchunk 2\n", b"L" * 200_000,
            b'{"hello":"world"}',
        ]  # fmt: skip

        [(head, body)] = exchange(port, b"HEAD /json HTTP/1.1\r\nHost: t\r\n\r\n", responses=1)
        assert head.startswith(b"HTTP/1.1 200 OK") and b"content-length: 17" in head and body == b""


def test_a_lone_interim_response_is_not_held_back() -> None:
    """`100 Continue` is written alone while the client waits for it before sending the body: a
    transport that held it for a next write would leave both sides waiting."""
    with one_write_server() as port, socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        interim = b""
        while b"\r\n\r\n" not in interim:
            interim += _recv(sock)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"abc")
        answer = b""
        while not answer.endswith(b"abc"):
            answer += _recv(sock)
        assert answer.startswith(b"HTTP/1.1 200 OK")
