"""The demo's experiences, targeting the sandbox account's segments by id."""

from __future__ import annotations

from typing import Any

from sandbox import demo_segment_id


def _segment(name: str, operator: str = "equals") -> dict[str, str]:
    return {"attribute": "klaviyo_segment", "operator": operator, "value": demo_segment_id(name)}


def demo_experiences() -> list[dict[str, Any]]:
    return [
        {
            "id": "free-shipping",
            "type": "personalization",
            "name": "Free shipping banner for VIPs",
            "status": "live",
            "targeting": {"mode": "custom", "rules": {"any": [_segment("VIP")]}},
            "traffic_percent": 100,
            "variations": [
                {"id": "no-banner", "name": "No banner", "weight": 1, "is_control": True},
                {"id": "banner", "name": "Free shipping banner", "weight": 1, "is_control": False},
            ],
        },
        {
            "id": "wholesale-pricing",
            "type": "test",
            "name": "Bulk pricing for active wholesale buyers",
            "status": "live",
            "targeting": {
                "mode": "advanced",
                "audiences": [
                    {
                        "rules": {"all": [_segment("Wholesale"), _segment("Lapsed", "not_equals")]},
                        "action": "assign",
                        "variation_id": "bulk-pricing",
                    }
                ],
            },
            "traffic_percent": 100,
            "variations": [
                {"id": "list-pricing", "name": "List prices", "weight": 1, "is_control": True},
                {"id": "bulk-pricing", "name": "Bulk pricing table", "weight": 1, "is_control": False},
            ],
        },
        {
            "id": "hero-copy",
            "type": "test",
            "name": "Hero headline",
            "status": "live",
            "targeting": {"mode": "custom"},
            "traffic_percent": 100,
            "variations": [
                {"id": "outdoors", "name": "Built for the outdoors", "weight": 1, "is_control": True},
                {"id": "further", "name": "Gear that goes further", "weight": 1, "is_control": False},
            ],
        },
    ]
