"""The demo's experiences, targeting the sandbox account's segments by id.

What each variation does on the storefront is its `changes` (a banner inserted with its own CSS, a
price table written over the list price, the hero's headline), so the demo page carries no code
for any experience: the snippet applies them.
"""

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
                {
                    "id": "banner",
                    "name": "Free shipping banner",
                    "weight": 1,
                    "is_control": False,
                    "changes": {
                        "css": ".kx-banner { background: #14532d; color: #fff; text-align: center;"
                        " padding: .6rem; font-weight: 600 }",
                        "dom": [
                            {
                                "selector": "body > header",
                                "action": "insert_before",
                                "value": '<div class="kx-banner" id="free-shipping-banner">'
                                "VIP perk: free shipping on every order today</div>",
                            }
                        ],
                        "payload": {"free_shipping": True},
                    },
                },
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
                {
                    "id": "bulk-pricing",
                    "name": "Bulk pricing table",
                    "weight": 1,
                    "is_control": False,
                    "changes": {
                        "dom": [
                            {
                                "selector": "#price",
                                "action": "set_html",
                                "value": '<div id="bulk-price"><table><tr><th>Quantity</th><th>Price each</th></tr>'
                                "<tr><td>1-9</td><td>$189.00</td></tr><tr><td>10-49</td><td>$159.00</td></tr>"
                                "<tr><td>50+</td><td>$139.00</td></tr></table></div>",
                            }
                        ],
                        "payload": {"tiers": [[1, 189], [10, 159], [50, 139]]},
                    },
                },
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
                {
                    "id": "further",
                    "name": "Gear that goes further",
                    "weight": 1,
                    "is_control": False,
                    "changes": {
                        "dom": [
                            {"selector": "#hero", "action": "set_text", "value": "Gear that goes further"}
                        ]
                    },
                },
            ],
        },
    ]
