"""Request ids: which worker process answered, and a random part that tells requests apart.

`X-Request-ID: <worker>-<16 hex>`. The worker part answers "which process served this?" (a
multi-worker deployment, a propagation test) without another header. The storefront makes one
per request, so the random parts are cut from one `os.urandom` read per 256 ids. Only the event
loop's thread makes them.
"""

from __future__ import annotations

import os
import secrets

_BATCH_BYTES = 2048  # 256 ids of 8 random bytes


def _new_worker_id() -> str:
    return secrets.token_hex(4)


class _RandomHex:
    __slots__ = ("_at", "_hex")

    def __init__(self) -> None:
        self._hex = ""
        self._at = 0

    def take16(self) -> str:
        at = self._at
        if at >= len(self._hex):
            self._hex, at = os.urandom(_BATCH_BYTES).hex(), 0
        self._at = at + 16
        return self._hex[at : at + 16]


WORKER_ID = _new_worker_id()
_random_hex = _RandomHex()


def _after_fork() -> None:
    """A forked child is another worker, and must not hand out its parent's random parts."""
    global WORKER_ID, _random_hex
    WORKER_ID = _new_worker_id()
    _random_hex = _RandomHex()


os.register_at_fork(after_in_child=_after_fork)


def new_request_id() -> str:
    return f"{WORKER_ID}-{_random_hex.take16()}"


def worker_of(request_id: str) -> str:
    """The worker part of a request id made here ("" for an id the client chose)."""
    worker, _, rest = request_id.partition("-")
    return worker if len(worker) == 8 and len(rest) == 16 else ""
