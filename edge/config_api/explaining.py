"""The `explain` answer: who the visitor is, how that was found out, and why each experience decided
what it did, in a form a merchant can read ("why doesn't my VIP see the banner?").

The identity comes from `edge.storefront.identity.identify`, the very function and resolver
caches the storefront uses, with the storefront's deadline: explaining a visitor who is cached
costs no Klaviyo call, and a visitor the storefront would see as `pending` is shown as pending.
Each live experience gets `targeting.explain`'s full trace plus a one-line `summary`; experiences
that are not live are listed with what their status means. Segment names come from the cached
segment list when it is there (never fetched for this), else ids are shown alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final

from msgspec import Meta, Struct

from edge.resolver.results import Identified, Pending, Resolution, Source, Unidentified
from edge.storefront.identity import VisitorIdentity
from edge.storefront.wire import MAX_URL_CHARS, VISITOR_ID_PATTERN, VisitFields
from targeting import (
    KLAVIYO_SEGMENT,
    AudienceAction,
    ConditionResult,
    Decision,
    DeferCause,
    Experience,
    ExperienceTrace,
    IdentityKind,
    OwnerCause,
    StickyEntry,
    StickyVerdict,
    TruthValue,
)

PLACEHOLDER_VISITOR: Final = "kx-explain-visitor"


class ExplainRequest(VisitFields, forbid_unknown_fields=True, kw_only=True):
    """What the storefront would send for this visitor; every field is optional. The visit
    fields are the snippet's (`landing_url`, `referrer`, `utm`, `cookies`, `visitor`, `links`),
    plus what the edge reads from the storefront request's headers: `user_agent` (for `device`,
    or give `device` itself) and `country`."""

    kx: Annotated[str | None, Meta(description="The visitor's Klaviyo `_kx`, as the snippet sends it.")] = (
        None
    )
    visitor_id: Annotated[
        Annotated[str, Meta(pattern=VISITOR_ID_PATTERN)] | None,
        Meta(description="The visitor's `kx_vid` cookie; hash-based decisions depend on it."),
    ] = None
    sticky: Annotated[str | None, Meta(description="The visitor's sticky token (`kx_sticky`).")] = None
    url: Annotated[str, Meta(max_length=MAX_URL_CHARS)] | None = None
    user_agent: Annotated[str, Meta(max_length=MAX_URL_CHARS)] | None = None
    device: Annotated[str | None, Meta(description="mobile, tablet or desktop (else from user_agent).")] = (
        None
    )
    country: Annotated[str | None, Meta(description="ISO 3166-1 alpha-2, as the CDN header has it.")] = None


class SegmentRef(Struct):
    id: str
    name: str | None


class ResolutionInfoView(Struct):
    """How the identity was obtained. `source`: l1 (this process's cache), l2 (Redis), klaviyo
    (asked now), index (synced membership), none. `klaviyo_calls`: HTTP requests this explain
    made, by endpoint tier."""

    source: str
    klaviyo_calls: dict[str, int]
    waited_for: str | None
    cache_age_s: float | None
    path: str | None
    detail: str | None


class IdentityView(Struct):
    kind: IdentityKind
    summary: str
    kx: str | None
    targeted_segments: list[SegmentRef]
    matched_segments: list[SegmentRef]
    resolution: ResolutionInfoView | None
    reason: str | None  # the resolver's: not_found, deadline, rate_limited, klaviyo_error, ...
    not_resolved_because: str | None  # no_kx, kx_malformed, nothing_targeted, klaviyo_not_connected, bot
    retry_after_ms: int | None
    warnings: list[str]


class StickyView(Struct):
    """`status`: none (no token given), valid, or ignored (tampered, expired, another site's or
    another visitor's: the visitor is decided afresh)."""

    status: str
    entries: dict[str, StickyEntry]
    summary: str


class ExperienceExplanation(Struct):
    id: str
    name: str
    summary: str
    decision: Decision
    trace: ExperienceTrace


class NotLiveExperience(Struct):
    id: str
    name: str
    status: str
    summary: str


class ExplainResponse(Struct):
    site_id: str
    visitor_id: str
    visitor_id_placeholder: bool
    identity: IdentityView
    sticky: StickyView
    experiences: list[ExperienceExplanation]
    not_live: list[NotLiveExperience]
    notes: list[str]
    url: str | None = None
    # The visit as the experiences see it (parsed: UTMs, traffic source, device...); cookie
    # values are left out.
    visit: dict[str, Any] | None = None
    # Which Klaviyo events this visit would send, or why none (trigger off, no _kx, ...).
    events: list[dict[str, Any]] = []


_NOT_RESOLVED = {
    "no_kx": "no kx was given, so the visitor is anonymous to Klaviyo",
    "kx_malformed": "the kx is malformed (bad characters or length), so it was ignored and Klaviyo was not asked",
    "nothing_targeted": "no live experience targets a segment, so the visitor's segments were not looked up",
    "klaviyo_not_connected": "the site is not connected to Klaviyo, so no visitor can be identified",
    "bot": "the user agent is a known crawler: it gets every control, and its kx was not looked up",
}
_SOURCES = {
    Source.L1: "this process's cache",
    Source.L2: "the shared (Redis) cache",
    Source.KLAVIYO: "Klaviyo, asked just now",
    Source.INDEX: "the synced segment membership index",
    Source.NONE: "nowhere",
}
_NOT_STATUS = {
    "draft": "draft: not running, nobody sees it",
    "paused": "paused: nobody sees it now; visitors keep their sticky assignment for when it resumes",
    "ended": "ended: nobody sees it, and sticky assignments to it are dropped",
}


def segment_label(segment_id: str, names: Mapping[str, str]) -> str:
    name = names.get(segment_id)
    return f"{name} ({segment_id})" if name and name != segment_id else segment_id


def _info_view(resolution: Resolution | None) -> ResolutionInfoView | None:
    if resolution is None:
        return None
    info = resolution.info
    cached = info.source in (Source.L1, Source.L2)
    return ResolutionInfoView(
        source=str(info.source),
        klaviyo_calls=dict(info.klaviyo_calls),
        waited_for=None if info.waited_for is None else str(info.waited_for),
        # Only a cache hit has an age; for a fresh answer the resolver's figure means nothing.
        cache_age_s=info.cache_age_s if cached else None,
        path=None if info.path is None else str(info.path),
        detail=info.detail,
    )


def _identity_summary(who: VisitorIdentity, matched: list[str], names: Mapping[str, str]) -> str:
    resolution = who.resolution
    if who.not_resolved_because is not None:
        return f"unidentified: {_NOT_RESOLVED.get(who.not_resolved_because, who.not_resolved_because)}"
    assert resolution is not None
    info = resolution.info
    where = _SOURCES[info.source]
    if info.cache_age_s is not None and info.source in (Source.L1, Source.L2):
        where += f", about {info.cache_age_s:.0f} s old"
    calls = sum(info.klaviyo_calls.values())
    if calls:
        where += (
            f"; {calls} Klaviyo call{'s' if calls != 1 else ''} ({', '.join(sorted(info.klaviyo_calls))})"
        )
    if info.waited_for is not None:
        where += f"; waited for {info.waited_for}"
    if isinstance(resolution, Identified):
        segments = ", ".join(segment_label(s, names) for s in matched) or "none of the targeted segments"
        return f"identified (from {where}): in {segments}"
    if isinstance(resolution, Unidentified):
        return f"unidentified: Klaviyo has no profile with this kx ({resolution.reason}; from {where})"
    assert isinstance(resolution, Pending)
    retry = f", retry in {who.retry_after_ms} ms" if who.retry_after_ms else ""
    return f"pending: not known yet ({resolution.reason}{retry}); segment conditions are unknown for now"


def identity_view(who: VisitorIdentity, targeted: frozenset[str], names: Mapping[str, str]) -> IdentityView:
    matched = sorted(who.identity.segments & targeted)
    resolution = who.resolution
    reason = None
    if isinstance(resolution, Unidentified | Pending):
        reason = str(resolution.reason)
    return IdentityView(
        kind=who.identity.kind,
        summary=_identity_summary(who, matched, names),
        kx=who.kx,
        targeted_segments=[SegmentRef(s, names.get(s)) for s in sorted(targeted)],
        matched_segments=[SegmentRef(s, names.get(s)) for s in matched],
        resolution=_info_view(resolution),
        reason=reason,
        not_resolved_because=who.not_resolved_because,
        retry_after_ms=who.retry_after_ms,
        warnings=list(who.warnings),
    )


def sticky_view(token: str | None, entries: Mapping[str, StickyEntry]) -> StickyView:
    if not token:
        return StickyView("none", {}, "no sticky token: the visitor is decided as on a first visit")
    if not entries:
        return StickyView(
            "ignored",
            {},
            "the sticky token was ignored (tampered, expired, from another site or for another visitor "
            "id, or empty): the visitor is decided afresh",
        )
    return StickyView("valid", dict(entries), f"the sticky token carries {len(entries)} assignment(s)")


def _condition(result: ConditionResult, names: Mapping[str, str]) -> str:
    return f"`{result.attribute} {result.operator} {segment_label(result.value, names)}`"


def _rules_text(
    conditions: tuple[ConditionResult, ...], result: TruthValue, kind: IdentityKind, names: Mapping[str, str]
) -> str:
    if not conditions:
        return "no conditions (everyone)"
    shown = ", ".join(_condition(c, names) for c in conditions if c.result is result)
    if result is TruthValue.TRUE:
        return f"matched {shown}"
    if result is TruthValue.UNKNOWN:
        return f"identity pending, so {shown} is unknown"
    false = [c for c in conditions if c.result is TruthValue.FALSE]
    if kind is IdentityKind.UNIDENTIFIED and all(c.attribute == KLAVIYO_SEGMENT for c in false):
        return "unidentified visitors match no segment condition"
    return f"did not match: {shown} is false"


def _exclusion_text(trace: ExperienceTrace) -> str | None:
    """Which test of the exclusion group the visitor was given, and why."""
    group = trace.exclusion
    if group is None:
        return None
    if group.given is None:
        return f"exclusion group {group.group}: no live test of the group"
    if group.cause is OwnerCause.STICKY_ENTRY:
        why = "the visitor's sticky token says they entered it"
    else:
        hit = next((r for r in group.ranges if r.experience_id == group.given), None)
        where = f" in its range [{hit.low:g}, {hit.high:g})" if hit is not None else ""
        why = f"group hash {group.n:.3f}{where}"
    if group.excluded:
        return f"exclusion group {group.group}: the visitor was given {group.given} ({why}), so not this test"
    return f"exclusion group {group.group}: the visitor was given this test ({why})"


def _targeting_text(trace: ExperienceTrace, kind: IdentityKind, names: Mapping[str, str]) -> str:
    if trace.rules is not None:
        return _rules_text(trace.rules.conditions, trace.rules.result, kind, names)
    if trace.matched_audience is not None:
        audience = trace.audiences[trace.matched_audience]
        action = str(audience.action)
        if audience.action is AudienceAction.ASSIGN:
            action += f" {audience.variation_id}"
        rules = _rules_text(audience.rules.conditions, audience.rules.result, kind, names)
        return f"audience {audience.index + 1} ({action}): {rules}"
    if trace.defer_cause is DeferCause.PENDING:
        return "identity pending: audiences cannot be evaluated yet"
    if not trace.audiences:
        return "no audiences"
    return "no audience matched"


def summary(
    experience: Experience, trace: ExperienceTrace, kind: IdentityKind, names: Mapping[str, str]
) -> str:
    """One line: what was matched, the hash and its range when it decided, and the outcome."""
    decision = trace.decision
    shown = decision.variation_id or "nothing assigned yet"
    outcome = f"-> {shown} ({decision.reason})"
    if trace.sticky_verdict is StickyVerdict.HONOURED:
        return f"{experience.name}: kept from the visitor's sticky token {outcome}"
    parts: list[str] = []
    group = _exclusion_text(trace)
    if group is not None:
        parts.append(group)
        if trace.exclusion is not None and trace.exclusion.excluded:
            return f"{experience.name}: {'; '.join(parts)} {outcome}"
    if trace.sticky_verdict is StickyVerdict.VARIATION_REMOVED and trace.sticky_in is not None:
        parts.append(f"the token's variation {trace.sticky_in.variation_id} was removed, decided afresh")
    parts.append(_targeting_text(trace, kind, names))
    bucket = trace.bucket
    if bucket.used:
        if bucket.hit is not None:
            parts.append(f"hash {bucket.n:.4f} in [{bucket.hit.low:g}, {bucket.hit.high:g})")
        else:
            parts.append(f"hash {bucket.n:.4f} outside every range (traffic {bucket.coverage * 100:g}%)")
    return f"{experience.name}: {'; '.join(parts)} {outcome}"


def not_live_summary(experience: Experience) -> str:
    return f"{experience.name}: {_NOT_STATUS.get(str(experience.status), str(experience.status))}"
