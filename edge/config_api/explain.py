"""`POST /v1/sites/{site_id}/explain`: the whole decision for one visitor, readable.

Body `{"kx"?, "visitor_id"?, "sticky"?, "url"?}` plus the visit fields the snippet sends
(`landing_url`, `referrer`, `utm`, `cookies`, `visitor`, `links`) and the storefront request's
`user_agent` / `device` and `country`, so a merchant can ask why a visitor from Paid Social on a
phone sees what they see (unknown fields are refused: this is a
configuration API, unlike `/v1/assign`, which ignores them for newer snippets). It resolves the
visitor exactly as `/v1/assign` does (see `edge.config_api.explaining`) and answers the identity,
the sticky token's entries, and per live experience the decision, its trace and a summary line.
Without `visitor_id` a fixed placeholder is used, and `notes` says that hash-based decisions are
that placeholder's. An invalid `visitor_id` is a 422 (the storefront would replace it with a new
id, which would explain nobody). A malformed `kx` is not an error: it is what is explained.
"""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from edge.access.auth import require_site
from edge.config_api.explaining import (
    PLACEHOLDER_VISITOR,
    ExperienceExplanation,
    ExplainRequest,
    ExplainResponse,
    NotLiveExperience,
    identity_view,
    not_live_summary,
    sticky_view,
    summary,
)
from edge.config_api.segment_catalog import catalog_of
from edge.events import explain_events
from edge.services import services
from edge.storefront.identity import identify
from edge.storefront.visit import build_visit
from edge.web.errors import NotFound
from edge.web.http import decode_json, json_response, read_body
from targeting import ExperienceStatus, Visit, decode_sticky, explain


async def explain_visitor(request: Request) -> Response:
    site = await require_site(request)
    svc = services(request)
    body = decode_json(await read_body(request, svc.settings.max_body_bytes), ExplainRequest)
    runtime = await svc.runtimes.by_site_id(site.id)
    if runtime is None:  # deleted between the two reads
        raise NotFound(f"No site {site.id}.", code="site_not_found")
    visitor_id = body.visitor_id or PLACEHOLDER_VISITOR
    settings = svc.settings
    who = await identify(runtime, body.kx, svc.resolver, deadline_s=settings.resolve_deadline_ms / 1000)
    sticky = decode_sticky(
        runtime.secret, site.id, visitor_id, body.sticky, svc.now(), settings.sticky_max_age_s
    )
    conn = runtime.connection_ref
    cached = catalog_of(request).peek(conn) if conn is not None else None
    names = {s.id: s.name for s in cached.segments} if cached is not None else {}
    compiled = runtime.compiled
    visit = build_visit(
        compiled.visit_needs,
        body,
        url=body.url,
        user_agent=body.user_agent,
        country=body.country,
        devices=svc.devices,
        new_visitor=False,
    )
    if body.device is not None and compiled.visit_needs.device:
        visit = msgspec.structs.replace(visit, device=Visit.from_request_fields(device=body.device).device)
    traces = explain(compiled, visitor_id, who.identity, sticky, visit=visit, now=svc.now())
    experiences = [
        ExperienceExplanation(
            id=trace.experience_id,
            name=runtime.experiences[trace.experience_id].name,
            summary=summary(runtime.experiences[trace.experience_id], trace, who.identity.kind, names),
            decision=trace.decision,
            trace=trace,
        )
        for trace in traces
    ]
    not_live = [
        NotLiveExperience(e.id, e.name, str(e.status), not_live_summary(e))
        for e in runtime.experiences.values()
        if e.status is not ExperienceStatus.LIVE
    ]
    notes: list[str] = []
    if body.visitor_id is None and any(t.bucket.used for t in traces):
        notes.append(
            f"No visitor_id was given: decisions made by the hash are those of the placeholder visitor "
            f"{PLACEHOLDER_VISITOR}. Send the visitor's kx_vid cookie as visitor_id to see theirs."
        )
    if not traces:
        notes.append("The site has no live experience: the storefront shows every visitor the page as it is.")
    return json_response(
        ExplainResponse(
            site_id=site.id,
            visitor_id=visitor_id,
            visitor_id_placeholder=body.visitor_id is None,
            identity=identity_view(who, runtime.compiled.targeted_segments, names),
            sticky=sticky_view(body.sticky, sticky),
            experiences=experiences,
            not_live=not_live,
            notes=notes,
            url=body.url,
            visit=visit.to_dict() if compiled.visit_needs.any else None,
            events=await explain_events(svc, site.id, runtime, visitor_id, who, [t.decision for t in traces]),
        )
    )


routes: list[BaseRoute] = [Route("/v1/sites/{site_id}/explain", explain_visitor, methods=["POST"])]
