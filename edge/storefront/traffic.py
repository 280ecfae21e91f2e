"""Counting `/v1/assign` requests, and its access log: a summary line per interval by default.

A storefront answers every page view of every shop, so a JSON line per request is most of what
its log holds and a large share of its CPU (formatting and writing the line costs about as much
as answering). What an operator of a busy storefront asks the log is "how many, how did they
end, how fast, and what went wrong": `assign_access_log = "summary"` (the default) writes one
line per `interval_s` with the count per status, the latency quantiles and the slowest request,
and still writes a line for every request that ended in a 5xx. `"every"` writes the
per-request line the other routes write; `"off"` writes none. `access_log = false` turns all
of it off. The summary is written by the first request after the interval ends, so a quiet
storefront writes nothing.

The counters are plain attributes (cumulative since start), for whoever exports metrics.
"""

from __future__ import annotations

import bisect
import logging
import time
from collections.abc import Callable

access_logger = logging.getLogger("kx_edge.access")

# Upper bounds (ms) of the latency buckets; the last bucket is everything slower.
BUCKETS_MS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0)
SUMMARY_INTERVAL_S = 10.0


class AssignTraffic:
    __slots__ = (
        "_clock",
        "_every",
        "_interval",
        "_next_summary",
        "_summary",
        "by_status",
        "duration_sum_s",
        "interval_buckets",
        "interval_by_status",
        "interval_codes",
        "interval_max_ms",
        "latency_buckets",
        "requests",
    )

    def __init__(
        self,
        mode: str = "summary",
        *,
        interval_s: float = SUMMARY_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`mode`: "summary", "every" or "off" (see the module docstring)."""
        self._every = mode == "every"
        self._summary = mode == "summary"
        self._interval = interval_s
        self._clock = clock
        self._next_summary = clock() + interval_s
        self.requests = 0
        self.by_status: dict[int, int] = {}
        self.duration_sum_s = 0.0
        self.latency_buckets = [0] * (len(BUCKETS_MS) + 1)
        self.interval_by_status: dict[int, int] = {}
        self.interval_codes: dict[str, int] = {}  # refusals' error codes, named in the summary
        self.interval_buckets = [0] * (len(BUCKETS_MS) + 1)
        self.interval_max_ms = 0.0

    def record(self, method: str, path: str, status: int, duration_s: float, code: str = "") -> None:
        """Count one answered request, and log what the mode asks for; `code`: a refusal's error
        code, named on its line (e.g. `origin_not_allowed`, so a developer can find why)."""
        self.requests += 1
        self.by_status[status] = self.by_status.get(status, 0) + 1
        self.duration_sum_s += duration_s
        ms = duration_s * 1000
        bucket = bisect.bisect_left(BUCKETS_MS, ms)
        self.latency_buckets[bucket] += 1
        if self._every or (status >= 500 and self._summary):
            access_logger.info(
                "%s %s %s%s", method, path, status, f" {code}" if code else "",
                extra={"status": status, "duration_ms": round(ms, 2)} | ({"code": code} if code else {}),
            )  # fmt: skip
        if not self._summary:
            return
        self.interval_by_status[status] = self.interval_by_status.get(status, 0) + 1
        if code:
            self.interval_codes[code] = self.interval_codes.get(code, 0) + 1
        self.interval_buckets[bucket] += 1
        if ms > self.interval_max_ms:
            self.interval_max_ms = ms
        now = self._clock()
        if now >= self._next_summary:
            self._write_summary(path, now)

    def _write_summary(self, path: str, now: float) -> None:
        seconds = self._interval + (now - self._next_summary)
        counts = self.interval_by_status
        total = sum(counts.values())
        statuses = ", ".join(f"{status}: {n}" for status, n in sorted(counts.items()))
        if self.interval_codes:
            statuses += "; " + ", ".join(f"{code}: {n}" for code, n in sorted(self.interval_codes.items()))
        p50, p99 = quantile_ms(self.interval_buckets, 0.5), quantile_ms(self.interval_buckets, 0.99)
        access_logger.info(
            "%s: %d requests in %.0f s (%s), p50 <= %s ms, p99 <= %s ms, slowest %.1f ms",
            path, total, seconds, statuses, _bound(p50), _bound(p99), self.interval_max_ms,
            extra={
                "summary": True, "requests": total, "seconds": round(seconds, 1),
                "statuses": statuses, "p50_ms": p50, "p99_ms": p99,
                "max_ms": round(self.interval_max_ms, 2),
            },
        )  # fmt: skip
        self.interval_by_status = {}
        self.interval_codes = {}
        self.interval_buckets = [0] * (len(BUCKETS_MS) + 1)
        self.interval_max_ms = 0.0
        self._next_summary = now + self._interval


def quantile_ms(buckets: list[int], q: float) -> float | None:
    """The upper bound of the bucket holding quantile `q` (None: slower than every bound, or no
    requests at all)."""
    total = sum(buckets)
    if not total:
        return None
    rank = q * total
    seen = 0
    for index, count in enumerate(buckets):
        seen += count
        if seen >= rank:
            return BUCKETS_MS[index] if index < len(BUCKETS_MS) else None
    return None


def _bound(ms: float | None) -> str:
    return "inf" if ms is None else f"{ms:g}"
