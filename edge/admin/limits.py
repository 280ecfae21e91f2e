"""A small brake on guessing api keys: failed sign-ins per client address, in this process.

Keys are 256-bit random, so this is not what keeps them safe; it keeps a script from hammering
the sign-in form and the logs. Each worker counts its own (a fleet allows `workers x LIMIT`).
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from typing import Final

from starlette.requests import Request

LIMIT: Final = 10
WINDOW_S: Final = 60.0
MAX_CLIENTS: Final = 10_000
_STATE_ATTRIBUTE: Final = "admin_sign_in_failures"


class FailedSignIns:
    """At most `limit` failures per client in any `window_s`; the oldest clients are forgotten
    beyond `max_clients`, so memory stays bounded."""

    def __init__(
        self, *, limit: int = LIMIT, window_s: float = WINDOW_S, max_clients: int = MAX_CLIENTS
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self._max_clients = max_clients
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, client: str, now: float) -> int | None:
        """Seconds until `client` may try again, or None when it may now."""
        failures = self._failures.get(client)
        if failures is None:
            return None
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        if not failures:
            del self._failures[client]
            return None
        if len(failures) < self.limit:
            return None
        return max(1, math.ceil(failures[0] + self.window_s - now))

    def failed(self, client: str, now: float) -> None:
        failures = self._failures.setdefault(client, deque(maxlen=self.limit))
        failures.append(now)
        self._failures.move_to_end(client)
        while len(self._failures) > self._max_clients:
            self._failures.popitem(last=False)


def failed_sign_ins(request: Request) -> FailedSignIns:
    """This app's counter (on `request.app.state`, created on first use)."""
    state = request.app.state
    found: FailedSignIns | None = getattr(state, _STATE_ATTRIBUTE, None)
    if found is None:
        found = FailedSignIns()
        setattr(state, _STATE_ATTRIBUTE, found)
    return found


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
