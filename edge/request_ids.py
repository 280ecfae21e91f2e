"""Request ids: which worker process answered, and a random part that tells requests apart.

`X-Request-ID: <worker>-<16 hex>`. The worker part answers "which process served this?" (a
multi-worker deployment, a propagation test) without another header. Request ids are echoed to
the client and logged, not secrets, so they come from a fast non-cryptographic generator (the
storefront makes one per request).
"""

from __future__ import annotations

import os
import random
import secrets

_random = random.Random()


def _new_worker_id() -> str:
    return secrets.token_hex(4)


WORKER_ID = _new_worker_id()


def _after_fork() -> None:
    global WORKER_ID
    WORKER_ID = _new_worker_id()
    _random.seed()


os.register_at_fork(after_in_child=_after_fork)


def new_request_id() -> str:
    return f"{WORKER_ID}-{_random.getrandbits(64):016x}"


def worker_of(request_id: str) -> str:
    """The worker part of a request id made here ("" for an id the client chose)."""
    worker, _, rest = request_id.partition("-")
    return worker if len(worker) == 8 and len(rest) == 16 else ""
