"""Checking the segments an experience targets against the connected Klaviyo account.

What is checked: every segment of an experience that is (or stays) live, since it serves; for a
draft or paused one, only the segments this write adds, so pausing a test, or renaming a draft
whose segment was since deleted in Klaviyo, is never blocked (going live checks them all again).
Nothing is checked for an experience being ended.

    site connected?  Klaviyo answers?  saved status      outcome
    yes              yes               draft/paused/live unknown id -> 422 `unknown_segment` (each with its path)
    yes              no                draft/paused      saved, warning `segments_unverified`
    yes              no                live              503 `klaviyo_unavailable` (nothing saved)
    no               -                 draft/paused      saved, warning `segments_unverified`
    no               -                 live              409 `klaviyo_not_connected` (nothing saved)

"Connected" means Klaviyo is configured on this kx-edge and the site's runtime has an active
connection (`SiteRuntime.connection_ref`). A known segment that Klaviyo reports inactive is
allowed with a warning `segment_inactive`. The list comes from the same 60 s `SegmentCatalog` as
the segments endpoint.
"""

from __future__ import annotations

from collections.abc import Iterator

from starlette.requests import Request

from edge.config_api.documents import ApiWarning
from edge.config_api.segment_catalog import catalog_of, klaviyo_unavailable
from edge.services import services
from edge.web.errors import Conflict, Unprocessable
from klaviyo.errors import KlaviyoError
from targeting import (
    KLAVIYO_SEGMENT,
    UNIDENTIFIED,
    CustomTargeting,
    Experience,
    ExperienceStatus,
    VisitorContext,
)
from targeting.rules import trace_rule


def segment_conditions(experience: Experience) -> Iterator[tuple[str, str]]:
    """(path of the condition's value, segment id) for every segment condition, in document order."""
    ctx = VisitorContext(UNIDENTIFIED)
    trees = experience.rule_trees
    custom = isinstance(experience.targeting, CustomTargeting)
    paths = ["targeting.rules"] if custom else [f"targeting.audiences[{i}].rules" for i in range(len(trees))]
    for path, tree in zip(paths, trees, strict=True):
        _, conditions = trace_rule(tree, ctx, path)
        for condition in conditions:
            if condition.attribute == KLAVIYO_SEGMENT:
                yield f"{condition.path}.value", condition.value


async def check_segments(
    request: Request, site_id: str, experience: Experience, before: Experience | None = None
) -> list[ApiWarning]:
    """Verify the segment ids of `experience` (replacing `before`, if any) as the module says:
    raise, or return warnings."""
    going_live = experience.status is ExperienceStatus.LIVE
    referenced = experience.referenced_segments
    if not going_live and before is not None:
        referenced -= before.referenced_segments
    if not referenced or experience.status is ExperienceStatus.ENDED:
        return []
    svc = services(request)
    runtime = await svc.runtimes.by_site_id(site_id)
    conn = runtime.connection_ref if runtime is not None else None
    names = ", ".join(sorted(referenced))
    if svc.klaviyo is None or conn is None:
        if going_live:
            raise Conflict(
                f"Experience {experience.id} targets Klaviyo segments ({names}), but this site is not "
                "connected to Klaviyo, so it cannot go live. Connect Klaviyo (Integrations -> Klaviyo), "
                "or save it as a draft for now.",
                code="klaviyo_not_connected",
                details={"segments": sorted(referenced)},
            )
        return [
            ApiWarning(
                "segments_unverified",
                f"Klaviyo is not connected, so the segment ids ({names}) were not checked. Connect "
                "Klaviyo before starting this experience.",
            )
        ]
    try:
        catalog = await catalog_of(request).get(svc.klaviyo.api, conn)
    except KlaviyoError as exc:
        if going_live:
            raise klaviyo_unavailable(
                exc, f"checking the segments experience {experience.id} targets (nothing was saved)"
            ) from None
        return [
            ApiWarning(
                "segments_unverified",
                f"Klaviyo did not answer, so the segment ids ({names}) were not checked; they will be "
                "checked when the experience is started.",
            )
        ]
    known = catalog.by_id()
    unknown = [
        (path, segment_id)
        for path, segment_id in segment_conditions(experience)
        if segment_id in referenced and segment_id not in known
    ]
    if unknown:
        problems = [
            {"path": path, "message": f"no segment {segment_id} in the connected Klaviyo account"}
            for path, segment_id in unknown
        ]
        raise Unprocessable(
            f"Experience {experience.id} targets segments the connected Klaviyo account does not have: "
            f"{', '.join(sorted({segment_id for _, segment_id in unknown}))}.",
            code="unknown_segment",
            details=problems,
        )
    return [
        ApiWarning(
            "segment_inactive",
            f"Segment {known[segment_id].name} ({segment_id}) is inactive in Klaviyo: its membership "
            "may not be kept up to date.",
        )
        for segment_id in sorted(referenced)
        if not known[segment_id].is_active
    ]
