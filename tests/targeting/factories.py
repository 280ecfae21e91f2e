"""Small builders for experience documents, so each test states only what it is about."""

from __future__ import annotations

from typing import Any

from targeting import CompiledSite, Experience, compile_site, parse_experience


def seg(segment: str) -> dict[str, str]:
    return {"attribute": "klaviyo_segment", "operator": "equals", "value": segment}


def not_seg(segment: str) -> dict[str, str]:
    return {"attribute": "klaviyo_segment", "operator": "not_equals", "value": segment}


def variations(*ids: str, weights: tuple[float, ...] | None = None) -> list[dict[str, Any]]:
    """Variations named by id; the first one is the control."""
    weights = weights or tuple(1 for _ in ids)
    return [
        {"id": vid, "name": vid.upper(), "weight": w, "is_control": i == 0}
        for i, (vid, w) in enumerate(zip(ids, weights, strict=True))
    ]


def doc(
    exp_id: str = "exp",
    *,
    type: str = "test",
    status: str = "live",
    rules: Any = None,
    audiences: list[dict[str, Any]] | None = None,
    traffic_percent: float = 100,
    variation_ids: tuple[str, ...] = ("control", "b"),
    weights: tuple[float, ...] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    targeting: dict[str, Any]
    if audiences is not None:
        targeting = {"mode": "advanced", "audiences": audiences}
    else:
        targeting = {"mode": "custom"} if rules is None else {"mode": "custom", "rules": rules}
    return {
        "id": exp_id,
        "type": type,
        "name": f"Experience {exp_id}",
        "status": status,
        "targeting": targeting,
        "traffic_percent": traffic_percent,
        "variations": variations(*variation_ids, weights=weights),
        **extra,
    }


def experience(exp_id: str = "exp", **kwargs: Any) -> Experience:
    return parse_experience(doc(exp_id, **kwargs))


def site(*docs: dict[str, Any]) -> CompiledSite:
    return compile_site(parse_experience(d) for d in docs)
