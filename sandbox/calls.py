"""Every request the fake answered: what tests and benchmarks count."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

from sandbox.records import Clock


@dataclass(frozen=True, slots=True)
class CallRecord:
    method: str
    route: str
    """The route template, e.g. `/api/profiles/{id}/relationships/segments` (no mount prefix)."""
    account_id: str | None
    """The account of the bearer token; None for OAuth calls and refused tokens."""
    status: int
    at: float
    revision: str | None = None
    """The `revision` header sent (API calls)."""


class CallLog:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._records: list[CallRecord] = []

    def record(
        self,
        method: str,
        route: str,
        account_id: str | None,
        status: int,
        revision: str | None = None,
    ) -> None:
        record = CallRecord(method, route, account_id, status, self._clock(), revision)
        with self._lock:
            self._records.append(record)

    def records(
        self,
        route: str | None = None,
        *,
        method: str | None = None,
        account_id: str | None = None,
        status: int | None = None,
    ) -> list[CallRecord]:
        """The calls so far, oldest first, narrowed by any of the given fields."""
        with self._lock:
            return [
                r
                for r in self._records
                if (route is None or r.route == route)
                and (method is None or r.method == method)
                and (account_id is None or r.account_id == account_id)
                and (status is None or r.status == status)
            ]

    def count(
        self,
        route: str | None = None,
        *,
        method: str | None = None,
        account_id: str | None = None,
        status: int | None = None,
    ) -> int:
        return len(self.records(route, method=method, account_id=account_id, status=status))

    def counts(self) -> Counter[tuple[str, str]]:
        """Calls per (method, route template)."""
        with self._lock:
            return Counter((r.method, r.route) for r in self._records)

    def reset(self) -> None:
        with self._lock:
            self._records.clear()
