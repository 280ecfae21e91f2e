"""Klaviyo's REST API for kx-edge: the client, its errors, and the seams it calls through."""

from klaviyo import errors
from klaviyo.client import JSON_API, ClientStats, KlaviyoClient, retry_after_seconds
from klaviyo.filters import equals, quote_value
from klaviyo.gate import LocalRateGate, ReservedGate, budget_limits
from klaviyo.models import KlaviyoAccount, KlaviyoSegment, MemberPage
from klaviyo.types import (
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
