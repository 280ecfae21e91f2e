"""Requests per route, counted in process by the request-context middleware.

The request path only adds to plain dicts (a few increments and one bisect); `edge.metrics.export`
turns the totals into Prometheus series off the request path. The route label is the route's
path template (`/v1/sites/{site_id}`), never the raw path, so its values are bounded by the app's
routes; requests no route matched count as `other`.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping

from edge.storefront.traffic import BUCKETS_MS

UNMATCHED = "other"


class RouteTraffic:
    __slots__ = ("_labels", "buckets", "by_status", "sums")

    def __init__(self, labels: Mapping[object, str] | None = None) -> None:
        """`labels`: the path template of each route's endpoint."""
        self._labels = dict(labels or {})
        self.by_status: dict[tuple[str, int], int] = {}
        self.buckets: dict[str, list[int]] = {}  # per route, counts per BUCKETS_MS (+ slower)
        self.sums: dict[str, float] = {}  # per route, seconds

    def record(self, endpoint: object, status: int, duration_s: float) -> None:
        route = self._labels.get(endpoint, UNMATCHED)
        key = (route, status)
        self.by_status[key] = self.by_status.get(key, 0) + 1
        counts = self.buckets.get(route)
        if counts is None:
            counts = self.buckets[route] = [0] * (len(BUCKETS_MS) + 1)
        counts[bisect.bisect_left(BUCKETS_MS, duration_s * 1000)] += 1
        self.sums[route] = self.sums.get(route, 0.0) + duration_s
