"""`/api/segments...`: the segment list (10 a page) and a segment's members (100 a page,
sortable and filterable by `joined_group_at`, and filterable by `_kx` unless switched off)."""

from __future__ import annotations

import bisect
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sandbox.guard import ApiContext
from sandbox.jsonapi import document, invalid, not_found
from sandbox.querying import (
    MEMBER_FILTERS,
    SEGMENT_FILTERS,
    decode_cursor,
    equality,
    matches,
    page_size,
    parse_conditions,
    sparse_fields,
    take_page,
)
from sandbox.records import Segment
from sandbox.resources import (
    MEMBER_ATTRIBUTES,
    SEGMENT_ATTRIBUTES,
    collection,
    identifier,
    profile_resource,
    segment_resource,
)
from sandbox.routes_profiles import profile_value

_SEGMENT_INCLUDES = frozenset({"tags", "flows"})
_MEMBER_INDEXED = ("profile_id", "_kx", "email", "phone_number")

Member = tuple[float, str]  # (joined_group_at, profile id): the members' sort key


def _segment_value(segment: Segment, field: str) -> Any:
    return getattr(segment, field, None)


async def get_segments(request: Request, context: ApiContext) -> Response:
    params = request.query_params
    conditions = parse_conditions(params, SEGMENT_FILTERS)
    size = page_size(params, default=10, maximum=10)
    fields = sparse_fields(params, "segment", SEGMENT_ATTRIBUTES)
    include = frozenset(n for n in (params.get("include") or "").split(",") if n)
    if include - _SEGMENT_INCLUDES:
        raise invalid(f"Invalid include: {', '.join(sorted(include))}", parameter="include")
    if params.get("sort") is not None:
        raise invalid("The sandbox lists segments in id order only.", parameter="sort")
    segments = context.state.segments(context.account_id)
    ids = [s.id for s in segments]
    after = decode_cursor(params)
    start = 0 if after is None else bisect.bisect_right(ids, after)
    page, more = take_page(
        segments, start, size=size, accept=lambda s: matches(conditions, lambda f: _segment_value(s, f))
    )
    data = [segment_resource(request, s, fields) for s in page]
    next_key = page[-1].id if more else None
    included: list[dict[str, Any]] | None = [] if include else None
    return document(collection(request, data, next_key=next_key, included=included))


def _member_page(request: Request, context: ApiContext) -> tuple[list[Member], str | None]:
    state = context.state
    segment = state.segment(request.path_params["id"])
    if segment is None or segment.account_id != context.account_id:
        raise not_found(f"A segment with id {request.path_params['id']} does not exist.")
    params = request.query_params
    conditions = parse_conditions(params, MEMBER_FILTERS)
    if state.refuse_kx_member_filter and any(c.field == "_kx" for c in conditions):
        raise invalid("'_kx' is not a valid field for this filter", parameter="filter")
    size = page_size(params, default=20, maximum=100)
    sort = params.get("sort")
    if sort not in (None, "joined_group_at", "-joined_group_at"):
        raise invalid("Members sort by joined_group_at only.", parameter="sort")
    order = state.member_order(segment.id)
    for field in _MEMBER_INDEXED:  # an equality on an indexed field narrows to a few members
        wanted = equality(conditions, field)
        if wanted is not None:
            found = (
                state.profile(v) if field == "profile_id" else state.profile_by(context.account_id, field, v)
                for v in wanted
            )
            joined = {p.id: state.joined_at(segment.id, p.id) for p in found if p}
            order = sorted((at, pid) for pid, at in joined.items() if at is not None)
            break
    descending = sort == "-joined_group_at"
    after = decode_cursor(params)
    if after is None:
        start = len(order) - 1 if descending else 0
    else:
        at, _, pid = after.partition("|")
        try:
            key = (float(at), pid)
        except ValueError:
            raise invalid("Invalid page cursor", parameter="page[cursor]") from None
        start = bisect.bisect_left(order, key) - 1 if descending else bisect.bisect_right(order, key)

    def accept(member: Member) -> bool:
        profile = state.profile(member[1])
        if profile is None:
            return False
        return matches(
            conditions, lambda f: member[0] if f == "joined_group_at" else profile_value(profile, f)
        )

    page, more = take_page(order, start, size=size, accept=accept, step=-1 if descending else 1)
    next_key = f"{page[-1][0]!r}|{page[-1][1]}" if more else None
    return page, next_key


async def get_segment_profile_ids(request: Request, context: ApiContext) -> Response:
    page, next_key = _member_page(request, context)
    data = [identifier("profile", pid) for _, pid in page]
    return document(collection(request, data, next_key=next_key))


async def get_segment_profiles(request: Request, context: ApiContext) -> Response:
    fields = sparse_fields(request.query_params, "profile", MEMBER_ATTRIBUTES)
    page, next_key = _member_page(request, context)
    data = []
    for joined, pid in page:
        profile = context.state.profile(pid)
        if profile is not None:
            data.append(profile_resource(request, profile, fields, joined_group_at=joined))
    return document(collection(request, data, next_key=next_key))
