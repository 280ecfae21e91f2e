"""Klaviyo's REST API for kx-edge: the client, its errors, and the seams it calls through."""

from edge.klaviyo import errors
from edge.klaviyo.client import JSON_API, ClientStats, KlaviyoClient, retry_after_seconds
from edge.klaviyo.filters import equals, quote_value
from edge.klaviyo.gate import LocalRateGate, ReservedGate, budget_limits
from edge.klaviyo.models import KlaviyoAccount, KlaviyoSegment, MemberPage
from edge.klaviyo.types import (
    KLAVIYO_LIMITS,
    ConnectionRef,
    RateGate,
    Refusal,
    ReservingGate,
    Tier,
    TierLimit,
    TokenSource,
)

__all__ = [
    "JSON_API",
    "KLAVIYO_LIMITS",
    "ClientStats",
    "ConnectionRef",
    "KlaviyoAccount",
    "KlaviyoClient",
    "KlaviyoSegment",
    "LocalRateGate",
    "MemberPage",
    "RateGate",
    "Refusal",
    "ReservedGate",
    "ReservingGate",
    "Tier",
    "TierLimit",
    "TokenSource",
    "budget_limits",
    "equals",
    "errors",
    "quote_value",
    "retry_after_seconds",
]
