"""Request ids: which worker process answered, and a random part that tells requests apart.

`X-Request-ID: <worker>-<16 hex>`. The worker part answers "which process served this?" (a
multi-worker deployment, a propagation test) without another header. The storefront makes one
per request, so the random parts are cut from one `os.urandom` read per 256 ids.

A `RequestIds` belongs to one app instance (`Services.request_ids`, built in the lifespan, so in
the worker process that serves: a worker forked or spawned later builds its own). Only the event
loop's thread uses it. An id a client sends is kept when `incoming` accepts it: bounded length
and a plain charset, so it is safe in a header and a log line.
"""

from __future__ import annotations

import os
import re
import secrets

_BATCH_BYTES = 2048  # 256 ids of 8 random bytes
_INCOMING = re.compile(rb"[A-Za-z0-9._:-]{8,64}")


class RequestIds:
    __slots__ = ("_at", "_hex", "worker")

    def __init__(self) -> None:
        self.worker = secrets.token_hex(4)
        self._hex = ""
        self._at = 0

    def new(self) -> str:
        at = self._at
        if at >= len(self._hex):
            self._hex, at = os.urandom(_BATCH_BYTES).hex(), 0
        self._at = at + 16
        return f"{self.worker}-{self._hex[at : at + 16]}"


def incoming(value: bytes) -> str | None:
    """A client's `X-Request-ID` when it is 8-64 characters of `[A-Za-z0-9._:-]`, else None."""
    return value.decode("ascii") if _INCOMING.fullmatch(value) else None


def worker_of(request_id: str) -> str:
    """The worker part of a request id made here ("" for an id the client chose)."""
    worker, _, rest = request_id.partition("-")
    return worker if len(worker) == 8 and len(rest) == 16 else ""
