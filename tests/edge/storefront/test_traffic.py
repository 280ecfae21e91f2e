"""`/v1/assign`'s counters and access log: a summary per interval, every request, or nothing."""

from __future__ import annotations

import logging

import pytest

from edge.storefront.traffic import AssignTraffic, quantile_ms


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "kx_edge.access"]


def test_the_summary_mode_writes_one_line_per_interval_and_every_5xx(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    traffic = AssignTraffic("summary", interval_s=10, clock=clock)
    with caplog.at_level(logging.INFO, logger="kx_edge.access"):
        for n in range(99):
            traffic.record("POST", "/v1/assign", 200, 0.0004 if n < 90 else 0.004)
        traffic.record("POST", "/v1/assign", 500, 0.002)
        assert [r.getMessage() for r in _lines(caplog)] == ["POST /v1/assign 500"]
        clock.now = 10.5
        traffic.record("POST", "/v1/assign", 400, 0.0001)
    summary = _lines(caplog)[-1]
    assert summary.__dict__["requests"] == 101
    assert summary.__dict__["statuses"] == "200: 99, 400: 1, 500: 1"
    assert summary.__dict__["p50_ms"] == 0.5 and summary.__dict__["p99_ms"] == 5.0
    assert summary.__dict__["max_ms"] == 4.0
    assert traffic.requests == 101 and traffic.by_status == {200: 99, 400: 1, 500: 1}
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="kx_edge.access"):
        traffic.record("POST", "/v1/assign", 200, 0.001)  # the next interval has only begun
    assert _lines(caplog) == []


def test_the_every_mode_writes_a_line_per_request(caplog: pytest.LogCaptureFixture) -> None:
    traffic = AssignTraffic("every")
    with caplog.at_level(logging.INFO, logger="kx_edge.access"):
        traffic.record("POST", "/v1/assign", 200, 0.001)
        traffic.record("OPTIONS", "/v1/assign", 204, 0.001)
    assert [r.getMessage() for r in _lines(caplog)] == ["POST /v1/assign 200", "OPTIONS /v1/assign 204"]


def test_the_off_mode_only_counts(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    traffic = AssignTraffic("off", interval_s=1, clock=clock)
    with caplog.at_level(logging.INFO, logger="kx_edge.access"):
        traffic.record("POST", "/v1/assign", 500, 0.001)
        clock.now = 5
        traffic.record("POST", "/v1/assign", 200, 0.001)
    assert _lines(caplog) == []
    assert traffic.requests == 2 and sum(traffic.latency_buckets) == 2


def test_quantiles_come_from_the_bucket_bounds() -> None:
    buckets = [0] * 13
    assert quantile_ms(buckets, 0.5) is None
    buckets[2], buckets[12] = 98, 2  # 98 requests under 1 ms, 2 slower than every bound
    assert quantile_ms(buckets, 0.5) == 1.0
    assert quantile_ms(buckets, 0.99) is None


def test_refusal_codes_are_named_per_line_and_in_the_summary(caplog: pytest.LogCaptureFixture) -> None:
    every = AssignTraffic("every")
    clock = Clock()
    summary = AssignTraffic("summary", interval_s=10, clock=clock)
    with caplog.at_level(logging.INFO, logger="kx_edge.access"):
        every.record("POST", "/v1/assign", 403, 0.001, "origin_not_allowed")
        assert _lines(caplog)[-1].getMessage() == "POST /v1/assign 403 origin_not_allowed"
        assert _lines(caplog)[-1].__dict__["code"] == "origin_not_allowed"
        for _ in range(3):
            summary.record("POST", "/v1/assign", 403, 0.001, "origin_not_allowed")
        summary.record("POST", "/v1/assign", 200, 0.001)
        clock.now = 11
        summary.record("POST", "/v1/assign", 404, 0.001, "site_not_found")
    assert _lines(caplog)[-1].__dict__["statuses"] == (
        "200: 1, 403: 3, 404: 1; origin_not_allowed: 3, site_not_found: 1"
    )
