"""`/api/accounts` and `/api/profiles...`: the connected account, profiles by `_kx`, and a
profile's segments (the scarce 3/s, 60/min call)."""

from __future__ import annotations

import bisect
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sandbox.guard import ApiContext, Policy
from sandbox.jsonapi import document, invalid, not_found, self_link
from sandbox.oauth_records import Scope
from sandbox.querying import (
    PROFILE_FILTERS,
    decode_cursor,
    equality,
    matches,
    page_size,
    parse_conditions,
    sparse_fields,
    take_page,
)
from sandbox.ratelimit import Tier
from sandbox.records import Profile
from sandbox.resources import (
    PROFILE_ATTRIBUTES,
    SEGMENT_ATTRIBUTES,
    account_resource,
    collection,
    identifier,
    profile_resource,
    segment_resource,
)

_LIST_INCLUDES = frozenset({"conversations", "push-tokens"})
_ONE_INCLUDES = frozenset({"conversations", "push-tokens", "lists", "segments"})
_INDEXED = ("id", "_kx", "email", "phone_number", "external_id")


def profile_value(profile: Profile, field: str) -> Any:
    """A profile's value for a filter field (dates as epoch seconds)."""
    if field == "_kx":
        return profile.kx
    if field in ("id", "profile_id"):
        return profile.id
    return getattr(profile, field, None)


def _includes(request: Request, allowed: frozenset[str]) -> frozenset[str]:
    raw = request.query_params.get("include")
    names = frozenset(n for n in (raw or "").split(",") if n)
    if names - allowed:
        detail = f"Invalid include: {', '.join(sorted(names - allowed))}"
        raise invalid(detail, parameter="include")
    return names


def profile_policy(request: Request) -> Policy:
    """`GET /api/profiles/{id}` costs the 1/s, 15/min tier once it includes segments or lists."""
    raw = request.query_params.get("include") or ""
    names = set(raw.split(","))
    if "segments" in names:
        return Policy(Tier.PROFILE_WITH_SEGMENTS, (Scope.PROFILES_READ, Scope.SEGMENTS_READ))
    if "lists" in names:
        return Policy(Tier.PROFILE_WITH_SEGMENTS, (Scope.PROFILES_READ,))
    return Policy(Tier.PROFILES, (Scope.PROFILES_READ,))


def _own_profile(context: ApiContext, profile_id: str) -> Profile:
    profile = context.state.profile(profile_id)
    if profile is None or profile.account_id != context.account_id:
        raise not_found(f"A profile with id {profile_id} does not exist.")
    return profile


async def get_accounts(request: Request, context: ApiContext) -> Response:
    account = context.state.account(context.account_id)
    data = [account_resource(request, account)] if account else []
    return document(collection(request, data))


async def get_profiles(request: Request, context: ApiContext) -> Response:
    params = request.query_params
    conditions = parse_conditions(params, PROFILE_FILTERS)
    size = page_size(params, default=20, maximum=100)
    fields = sparse_fields(params, "profile", PROFILE_ATTRIBUTES)
    included: list[dict[str, Any]] | None = [] if _includes(request, _LIST_INCLUDES) else None
    if params.get("sort") not in (None, "id"):
        raise invalid("The sandbox sorts profiles by id only.", parameter="sort")
    state, account_id = context.state, context.account_id
    ordered = state.profile_ids(account_id)
    for field in _INDEXED:  # an equality on an indexed field narrows the scan to a few ids
        wanted = equality(conditions, field)
        if wanted is not None:
            found = (
                state.profile(v) if field == "id" else state.profile_by(account_id, field, v) for v in wanted
            )
            ordered = sorted({p.id for p in found if p and p.account_id == account_id})
            break
    after = decode_cursor(params)
    start = 0 if after is None else bisect.bisect_right(ordered, after)

    def accept(profile_id: str) -> bool:
        profile = state.profile(profile_id)
        return profile is not None and matches(conditions, lambda f: profile_value(profile, f))

    page, more = take_page(ordered, start, size=size, accept=accept)
    profiles = [p for p in map(state.profile, page) if p is not None]
    data = [profile_resource(request, p, fields) for p in profiles]
    next_key = page[-1] if more else None
    return document(collection(request, data, next_key=next_key, included=included))


async def get_profile(request: Request, context: ApiContext) -> Response:
    profile = _own_profile(context, request.path_params["id"])
    include = _includes(request, _ONE_INCLUDES)
    fields = sparse_fields(request.query_params, "profile", PROFILE_ATTRIBUTES)
    resource = profile_resource(request, profile, fields)
    body: dict[str, Any] = {"data": resource, "links": {"self": self_link(request)}}
    if include:
        body["included"] = []
    if "segments" in include:
        segments = context.state.segments_of(profile.id)
        segment_fields = sparse_fields(request.query_params, "segment", SEGMENT_ATTRIBUTES)
        resource["relationships"]["segments"]["data"] = [identifier("segment", s.id) for s in segments]
        body["included"] = [segment_resource(request, s, segment_fields) for s in segments]
    if "lists" in include:
        resource["relationships"]["lists"]["data"] = []
    return document(body)


async def get_profile_segment_ids(request: Request, context: ApiContext) -> Response:
    profile = _own_profile(context, request.path_params["id"])
    segments = context.state.segments_of(profile.id)
    return document(collection(request, [identifier("segment", s.id) for s in segments]))


async def get_profile_segments(request: Request, context: ApiContext) -> Response:
    profile = _own_profile(context, request.path_params["id"])
    fields = sparse_fields(request.query_params, "segment", SEGMENT_ATTRIBUTES)
    segments = context.state.segments_of(profile.id)
    return document(collection(request, [segment_resource(request, s, fields) for s in segments]))
