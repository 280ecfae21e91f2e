"""Segment resolution: `_kx` -> the visitor's targeted Klaviyo segments, cached up to 24 h.

resolver = Resolver(http, tokens, config=ResolverConfig(), redis=redis, prefix="kxe:")
await resolver.start()
resolution = await resolver.resolve(conn, parse_kx(raw), targeted=frozenset({"SEG1"}))
await resolver.aclose()
"""

from edge.resolver.config import ResolverConfig
from edge.resolver.index import MembershipIndex, NoMembershipIndex
from edge.resolver.kx import is_valid_kx, parse_kx
from edge.resolver.metrics import ResolverMetrics
from edge.resolver.resolver import Resolver
from edge.resolver.results import (
    Identified,
    Pending,
    PendingReason,
    Resolution,
    ResolutionInfo,
    ResolutionPath,
    Source,
    Unidentified,
    UnidentifiedReason,
    WaitedFor,
)
from klaviyo import ConnectionRef, TokenSource

__all__ = [
    "ConnectionRef",
    "Identified",
    "MembershipIndex",
    "NoMembershipIndex",
    "Pending",
    "PendingReason",
    "Resolution",
    "ResolutionInfo",
    "ResolutionPath",
    "Resolver",
    "ResolverConfig",
    "ResolverMetrics",
    "Source",
    "TokenSource",
    "Unidentified",
    "UnidentifiedReason",
    "WaitedFor",
    "is_valid_kx",
    "parse_kx",
]
