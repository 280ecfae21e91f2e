from __future__ import annotations

import pytest

from edge.resolver import ResolverConfig
from klaviyo import Tier


def test_the_segment_ttl_is_capped_at_24_hours() -> None:
    assert ResolverConfig().segment_cache_ttl_s == 86400
    assert ResolverConfig(segment_cache_ttl_s=7 * 86400).segment_cache_ttl_s == 86400


@pytest.mark.parametrize(
    "bad",
    [
        {"budget_fractions": {Tier.PROFILES: 1.5}},
        {"local_budget_share": 0.0},
        {"negative_cache_ttl_s": 0},
        {"lock_ttl_ms": 1000, "background_deadline_s": 5.0},
    ],
)
def test_nonsense_settings_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ResolverConfig(**bad)  # type: ignore[arg-type]
