"""Fault injection: the next N answers of a route are a 500, a 503, a 429 or a hang."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from enum import StrEnum

ANY_ROUTE = "*"


class FaultKind(StrEnum):
    SERVER_ERROR = "server_error"
    """500 with a JSON:API error body."""
    UNAVAILABLE = "unavailable"
    """503 with a JSON:API error body."""
    THROTTLED = "throttled"
    """429 with `Retry-After: retry_after_s` and no RateLimit headers."""
    HANG = "hang"
    """Wait `hang_s` seconds, then answer normally: a client with a shorter timeout times out."""


@dataclass(frozen=True, slots=True)
class Fault:
    route: str
    kind: FaultKind
    remaining: int
    method: str | None = None
    retry_after_s: int = 1
    hang_s: float = 30.0

    def matches(self, method: str, route: str) -> bool:
        return self.route in (ANY_ROUTE, route) and self.method in (None, method)


class FaultPlan:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def inject(
        self,
        route: str,
        kind: FaultKind,
        *,
        times: int = 1,
        method: str | None = None,
        retry_after_s: int = 1,
        hang_s: float = 30.0,
    ) -> None:
        """The next `times` calls of `route` (a template such as `/api/profiles`, or `*` for
        every route, OAuth included) answer with `kind` instead of their normal answer."""
        fault = Fault(route, kind, times, method, retry_after_s, hang_s)
        with self._lock:
            self._faults.append(fault)

    def take(self, method: str, route: str) -> Fault | None:
        """The first pending fault for this call, consuming one of its occurrences."""
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.matches(method, route):
                    if fault.remaining <= 1:
                        del self._faults[index]
                    else:
                        self._faults[index] = replace(fault, remaining=fault.remaining - 1)
                    return fault
            return None

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
