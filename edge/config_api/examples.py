"""An example request and answer for every operation of `/openapi.json`, shown by `/docs`.

Written as data, by operation id, so the document's structure (`openapi.py`) stays apart from its
prose; a test checks that every operation has its examples and that each one validates against
the schema the document publishes for it (an example that drifts from the contract fails there).
The values are those of a real run against the sandbox Klaviyo, with the ids made readable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

SITE_ID: Final = "site_3f9a1c2b4d5e6f70"
PUBLIC_KEY: Final = "pk_Vq3Xb8rT2nLw5yZa1cD4eF6g"
# The VIP segment of the demo's sandbox Klaviyo, so the examples work against `serve --demo`.
VIP: Final = "SnTYG1"
NOW: Final = 1796190000
PREVIEW_NONE: Final = "free-shipping:none~1796276400~3q2_bU9xWkT1aZc4fHjLmA"
PREVIEW_BANNER: Final = "free-shipping:banner~1796276400~Yp8rN2vQx6dLs0eKtW5gHw"
PATH_EXAMPLES: Final = {"site_id": SITE_ID, "experience_id": "free-shipping"}


@dataclass(frozen=True, slots=True)
class Example:
    """`request`: the body sent (None: the operation takes none); `answer`: the body of its first
    answer with one (None: it has none, e.g. 204)."""

    answer: Any
    request: Any = None


SITE: Final[dict[str, Any]] = {
    "id": SITE_ID,
    "name": "Sandbox Outfitters",
    "public_key": PUBLIC_KEY,
    "allowed_origins": ["https://shop.example.com"],
    "config_version": 1,
    "created_at": NOW,
    "updated_at": NOW,
    "previous_key_valid_until": None,
}
VIP_RULES: Final[dict[str, Any]] = {
    "any": [{"attribute": "klaviyo_segment", "operator": "equals", "value": VIP}]
}
EXPERIENCE: Final[dict[str, Any]] = {
    "id": "free-shipping",
    "type": "personalization",
    "name": "Free shipping for VIPs",
    "status": "draft",
    "targeting": {"mode": "custom", "rules": VIP_RULES},
    "traffic_percent": 100,
    "variations": [
        {"id": "none", "name": "No banner", "weight": 1, "is_control": True},
        {"id": "banner", "name": "Banner", "weight": 1, "is_control": False},
    ],
}
EXPERIENCE_VIEW: Final[dict[str, Any]] = EXPERIENCE | {
    "seed": None,
    "version": 1,
    "created_at": NOW,
    "updated_at": NOW,
    "warnings": [],
}
LIVE_VIEW: Final[dict[str, Any]] = EXPERIENCE_VIEW | {"status": "live", "version": 2, "updated_at": NOW + 60}
CONNECTION: Final[dict[str, Any]] = {
    "status": "active",
    "account_id": "7gNDwx",
    "account_name": "Sandbox Outfitters",
    "scopes": ["accounts:read", "profiles:read", "segments:read"],
    "missing_scopes": [],
    "connected_at": NOW,
    "last_refresh_at": None,
    "last_error": None,
    "generation": 1,
}
_PROPERTIES: Final = [
    {"name": "Experience", "description": "The experience's name, as set in kx-edge."},
    {"name": "Variation", "description": "The name of the variation the visitor was shown."},
]


def _trigger(enabled: bool, metric: str, when: str) -> dict[str, Any]:
    return {"enabled": enabled, "metric_name": metric, "when": when, "properties": _PROPERTIES}


TRIGGERS: Final[dict[str, Any]] = {
    "entered_test": _trigger(True, "kx-edge: Entered Test", "The first time a visitor enters a test."),
    "saw_personalization": _trigger(
        False, "kx-edge: Saw Personalization", "The first time a visitor is shown a personalization."
    ),
    "profile_sync": _trigger(
        False, "kx-edge: Experiences Updated", "Sets the kx_edge_experiences profile property."
    ),
    "missing_scopes": ["events:write"],
}
EXPLAIN_ANSWER: Final[dict[str, Any]] = {
    "site_id": "site_3f9a1c2b4d5e6f70",
    "visitor_id": "0f8e1d2c3b4a59687766554433221100",
    "visitor_id_placeholder": False,
    "identity": {
        "kind": "identified",
        "summary": "identified (from Klaviyo, asked just now; 2 Klaviyo calls (profiles, "
        "segment_members)): in VIP (SnTYG1)",
        "kx": "AbCdEfGhIjKlMnOpQrStUv==.x1Y2z3",
        "targeted_segments": [{"id": "SnTYG1", "name": "VIP"}],
        "matched_segments": [{"id": "SnTYG1", "name": "VIP"}],
        "resolution": {
            "source": "klaviyo",
            "klaviyo_calls": {"profiles": 1, "segment_members": 1},
            "waited_for": None,
            "cache_age_s": None,
            "path": "per_segment",
            "detail": None,
        },
        "reason": None,
        "not_resolved_because": None,
        "retry_after_ms": None,
        "warnings": [],
    },
    "sticky": {
        "status": "none",
        "entries": {},
        "summary": "no sticky token: the visitor is decided as on a first visit",
    },
    "experiences": [
        {
            "id": "free-shipping",
            "name": "Free shipping for VIPs",
            "summary": "Free shipping for VIPs: matched `klaviyo_segment equals VIP (SnTYG1)`; "
            "hash 0.5003 in [0, 1) -> banner (rules_matched)",
            "decision": {
                "experience_id": "free-shipping",
                "type": "personalization",
                "status": "decided",
                "entered": True,
                "variation_id": "banner",
                "is_control": False,
                "reason": "rules_matched",
                "first_assignment": True,
            },
            "trace": {
                "experience_id": "free-shipping",
                "type": "personalization",
                "mode": "custom",
                "sticky_in": None,
                "sticky_verdict": "none",
                "rules": {
                    "path": "targeting.rules",
                    "result": "true",
                    "conditions": [
                        {
                            "path": "targeting.rules.any[0]",
                            "attribute": "klaviyo_segment",
                            "operator": "equals",
                            "value": "SnTYG1",
                            "result": "true",
                        }
                    ],
                },
                "audiences": [],
                "matched_audience": None,
                "defer_cause": None,
                "bucket": {
                    "seed": "free-shipping",
                    "n": 0.5003,
                    "coverage": 1.0,
                    "ranges": [{"variation_id": "banner", "low": 0.0, "high": 1.0}],
                    "hit": {"variation_id": "banner", "low": 0.0, "high": 1.0},
                    "used": True,
                },
                "exclusion": None,
                "decision": {
                    "experience_id": "free-shipping",
                    "type": "personalization",
                    "status": "decided",
                    "entered": True,
                    "variation_id": "banner",
                    "is_control": False,
                    "reason": "rules_matched",
                    "first_assignment": True,
                },
                "sticky_out": None,
            },
        }
    ],
    "not_live": [],
    "notes": [],
    "url": "https://shop.example.com/products/trail-jacket",
    "events": [
        {
            "trigger": "saw_personalization",
            "metric_name": "kx-edge: Saw Personalization",
            "experience_id": "free-shipping",
            "sends": False,
            "reason": "trigger_off",
        },
        {
            "trigger": "profile_sync",
            "metric_name": "kx-edge: Experiences Updated",
            "experience_id": None,
            "sends": False,
            "reason": "trigger_off",
        },
    ],
}
TRIGGERS_STATUS: Final[dict[str, Any]] = {
    "window": "last 24 hours (pending: now)",
    "connection_status": "active",
    "events_scope_missing": True,
    "missing_scopes": ["events:write"],
    "triggers": {
        "entered_test": {
            "enabled": True,
            "metric_name": "kx-edge: Entered Test",
            "last_sent_at": None,
            "sent": 0,
            "failed": 0,
            "pending": 0,
            "skipped": 0,
            "skipped_by_reason": {},
            "dropped": 0,
            "last_error": None,
        },
        "saw_personalization": {
            "enabled": False,
            "metric_name": "kx-edge: Saw Personalization",
            "last_sent_at": None,
            "sent": 0,
            "failed": 0,
            "pending": 0,
            "skipped": 0,
            "skipped_by_reason": {},
            "dropped": 0,
            "last_error": None,
        },
        "profile_sync": {
            "enabled": False,
            "metric_name": "kx-edge: Experiences Updated",
            "last_sent_at": None,
            "sent": 0,
            "failed": 0,
            "pending": 0,
            "skipped": 0,
            "skipped_by_reason": {},
            "dropped": 0,
            "last_error": None,
        },
    },
    "problems": [
        "The Klaviyo connection lacks events:write: reconnect Klaviyo to grant it.",
        "Events start Klaviyo flows only when a flow uses the metric as its trigger and is live; "
        "check the flow in Klaviyo too.",
    ],
    "outbox": {
        "backend": "sqlite",
        "pending": 0,
        "cap": 100000,
        "buffered": 0,
        "dropped_from_memory": 0,
        "sending": True,
    },
}
ASSIGN_ANSWER: Final[dict[str, Any]] = {
    "visitor_id": "0f8e1d2c3b4a59687766554433221100",
    "identity": "identified",
    "retry_after_ms": None,
    "warnings": [],
    "experiences": [
        {
            "id": "free-shipping",
            "type": "personalization",
            "status": "decided",
            "entered": True,
            "variation_id": "banner",
            "is_control": False,
            "reason": "rules_matched",
        }
    ],
    "sticky": "kwHOaw_DfYDp9bspBmS4tC4UFcUXsOqe",
}
EXPORT: Final[dict[str, Any]] = {
    "format": "kx-edge.experiences/1",
    "experiences": [EXPERIENCE | {"seed": None}],
    "site": {"id": SITE_ID, "name": "Sandbox Outfitters (staging)"},
    "exported_at": NOW,
}


def _lift(
    value: float, low: float | None, high: float | None, p: float | None, chance: float | None
) -> dict[str, Any]:
    return {"value": value, "ci_low": low, "ci_high": high, "p_value": p, "chance_to_beat_control": chance}


RESULTS_ANSWER: Final[dict[str, Any]] = {
    "experience_id": "free-shipping",
    "variations": [
        {"variation_id": "none", "is_control": True, "visitors": 1200, "converters": 48, "orders": 48,
         "revenue": 3480.0, "conversion_rate": 0.04, "revenue_per_visitor": 2.9, "average_order_value": 72.5,
         "orders_per_visitor": 0.04, "chance_to_beat_control": None, "lift": None},
        {"variation_id": "banner", "is_control": False, "visitors": 1180, "converters": 71, "orders": 71,
         "revenue": 4970.0, "conversion_rate": 0.060169, "revenue_per_visitor": 4.211864,
         "average_order_value": 70.0, "orders_per_visitor": 0.060169, "chance_to_beat_control": 0.956157,
         "lift": {
             "conversion_rate": _lift(0.504237, -0.033545, 1.042019, 0.066092, 0.967019),
             "revenue_per_visitor": _lift(0.452367, -0.067085, 0.971819, 0.08782, 0.956157),
             "orders_per_visitor": _lift(0.504237, -0.033771, 1.042245, 0.066205, 0.966962),
             "average_order_value": _lift(-0.034483, None, None, None, None),
         }},
    ],
    "srm": {"p_value": 0.681835, "mismatch": False},
    "bots_excluded": 37,
    "warnings": [],
    "headline_metric": "revenue_per_visitor",
    "sample_size": {"detectable_lift": 0.1, "power": 0.8, "alpha": 0.05, "visitors_per_group": 39475,
                    "orders_per_group": 1579},
    "type": "personalization",
    "name": "Free shipping for VIPs",
    "variation_names": {"none": "No banner", "banner": "Banner"},
    "from": "2026-11-02",
    "to": "2026-11-30",
}  # fmt: skip
RESULTS_CSV: Final = (
    "variation_id,variation_name,is_control,visitors,converters,orders,revenue,conversion_rate,"
    "revenue_per_visitor,average_order_value,chance_to_beat_control,conversion_rate_lift_value,"
    "conversion_rate_lift_ci_low,conversion_rate_lift_ci_high,revenue_per_visitor_lift_value,"
    "revenue_per_visitor_lift_ci_low,revenue_per_visitor_lift_ci_high\r\n"
    "none,No banner,true,1200,48,48,3480.0,0.04,2.9,72.5,,,,,,,\r\n"
    "banner,Banner,false,1180,71,71,4970.0,0.060169,4.211864,70.0,0.956157,0.504237,-0.033545,1.042019,"
    "0.452367,-0.067085,0.971819\r\n"
)

EXAMPLES: Final[dict[str, Example]] = {
    "createSite": Example(
        SITE | {"api_key": "sk_2hQk9Vw7sXb3LmP0aZr8tYc1NdE5fGuJ4iKoWq6eRtB"},
        {"name": "Sandbox Outfitters", "allowed_origins": ["https://shop.example.com"]},
    ),
    "listSites": Example({"sites": [SITE]}),
    "getSite": Example(SITE),
    "updateSite": Example(
        SITE
        | {
            "allowed_origins": ["https://shop.example.com", "https://www.shop.example.com"],
            "config_version": 2,
            "updated_at": NOW + 60,
        },
        {"allowed_origins": ["https://shop.example.com", "https://www.shop.example.com"]},
    ),
    "rotateSiteKey": Example(
        {
            "api_key": "sk_7pLm2Qw9eRt4YuI0oPa3SdF6gHj1KlZ8xCv5BnM2qWe",
            "previous_key_valid_until": NOW + 86_400,
            "grace_s": 86_400,
            "sessions_ended": 1,
        }
    ),
    "deleteSite": Example(
        {"id": SITE_ID, "deleted": True, "klaviyo": {"was_connected": True, "revoked": True}}
    ),
    "listExperiences": Example({"experiences": [EXPERIENCE_VIEW]}),
    "createExperience": Example(EXPERIENCE_VIEW, EXPERIENCE),
    "getExperience": Example(EXPERIENCE_VIEW),
    "replaceExperience": Example(
        EXPERIENCE_VIEW | {"traffic_percent": 50, "version": 2},
        # The id is the URL's: a body may leave it out.
        {k: v for k, v in EXPERIENCE.items() if k != "id"} | {"traffic_percent": 50},
    ),
    "deleteExperience": Example(None),
    "startExperience": Example(LIVE_VIEW),
    "pauseExperience": Example(LIVE_VIEW | {"status": "paused", "version": 3}),
    "endExperience": Example(LIVE_VIEW | {"status": "ended", "version": 3}),
    "exportExperiences": Example(EXPORT),
    "importExperiences": Example(
        {"created": ["free-shipping"], "replaced": [], "skipped": [], "warnings": []}, EXPORT
    ),
    "getKlaviyoConnection": Example(CONNECTION | {"klaviyo_configured": True}),
    "connectKlaviyo": Example(
        {
            "authorize_url": "https://www.klaviyo.com/oauth/authorize?response_type=code&client_id=kx-edge-app"
            "&redirect_uri=https%3A%2F%2Fedge.example.com%2Foauth%2Fklaviyo%2Fcallback"
            "&scope=accounts%3Aread+profiles%3Aread+segments%3Aread&state=J4mPq8ZsWrY5dXa1"
            "&code_challenge=2Rb3lD-lZnBo8tAPIbNfD4XRNfJ8JA9HVaQMWsQuIsI&code_challenge_method=S256",
            "scopes": ["accounts:read", "profiles:read", "segments:read"],
            "expires_in": 600,
        }
    ),
    "disconnectKlaviyo": Example(
        CONNECTION
        | {
            "status": "disconnected",
            "account_id": None,
            "account_name": None,
            "scopes": [],
            "connected_at": None,
            "generation": 2,
            "revoked": True,
            "was_connected": True,
        }
    ),
    "listSegments": Example(
        {
            "segments": [
                {"id": VIP, "name": "VIP", "is_active": True, "is_starred": True},
                {"id": "E7FcsS", "name": "Wholesale", "is_active": True, "is_starred": True},
                {"id": "GtsviS", "name": "Lapsed", "is_active": True, "is_starred": False},
            ],
            "fetched_at": NOW,
        }
    ),
    "getResults": Example(RESULTS_ANSWER),
    "getResultsCsv": Example(RESULTS_CSV),
    "getTriggers": Example(TRIGGERS),
    "updateTriggers": Example(TRIGGERS, {"entered_test": {"enabled": True}}),
    "getTriggersStatus": Example(TRIGGERS_STATUS),
    "explain": Example(
        EXPLAIN_ANSWER,
        {
            "kx": "AbCdEfGhIjKlMnOpQrStUv==.x1Y2z3",
            "visitor_id": "0f8e1d2c3b4a59687766554433221100",
            "url": "https://shop.example.com/products/trail-jacket",
        },
    ),
    "assign": Example(
        ASSIGN_ANSWER,
        {
            "visitor_id": "0f8e1d2c3b4a59687766554433221100",
            "kx": "AbCdEfGhIjKlMnOpQrStUv==.x1Y2z3",
            "url": "https://shop.example.com/products/trail-jacket",
        },
    ),
    "snippet": Example(
        "/*! kx-edge storefront snippet: A/B tests and personalization in one round trip. */\n(() => {...})();"
    ),
    "openapi": Example({"openapi": "3.1.0", "info": {"title": "kx-edge", "version": "1"}, "paths": {}}),
    "healthz": Example({"status": "ok"}),
    "readyz": Example({"ready": True, "checks": {"store": "ok", "redis": "ok"}}),
    "apiDocs": Example("<!doctype html>..."),
    "previewLinks": Example(
        {
            "experience_id": "free-shipping",
            "expires_at": NOW + 86_400,
            "links": [
                {
                    "variation_id": "none",
                    "name": "No banner",
                    "is_control": True,
                    "kx_preview": PREVIEW_NONE,
                    "url": "https://shop.example.com/?kx_preview=" + PREVIEW_NONE,
                },
                {
                    "variation_id": "banner",
                    "name": "Banner",
                    "is_control": False,
                    "kx_preview": PREVIEW_BANNER,
                    "url": "https://shop.example.com/?kx_preview=" + PREVIEW_BANNER,
                },
            ],
        },
        {"url": "https://shop.example.com/", "ttl_s": 86_400},
    ),
    "preview": Example(
        {
            "experience": {
                "id": "free-shipping",
                "type": "personalization",
                "status": "decided",
                "entered": True,
                "variation_id": "banner",
                "is_control": False,
                "reason": "preview",
                "changes": {"css": ".kx-banner{display:block}"},
            }
        }
    ),
}
