"""Prometheus metrics: in-process counts (`traffic`), the series and their sources (`export`),
and `GET /metrics` (`routes`). See docs/metrics.md."""
