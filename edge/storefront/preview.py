"""Preview links: `?kx_preview=<experience>:<variation>~<expires>~<signature>` on any shop URL.

The merchant page asks the configuration API for a link per variation (`preview_link`); the
snippet sees the parameter, keeps it in a session cookie and asks `GET /v1/preview` for the
forced experience element, which it applies over the normal answer in that browser only. The
signature (HMAC-SHA256 under the site's signing secret, with its own purpose label so it can
never pass for a sticky token) covers the site, the experience, the variation and the expiry, so
a visitor cannot craft a link that picks a variation (a price, a discount) for themselves.

Nothing about a preview is remembered on the server: `/v1/assign` still answers the visitor's
own decisions and sticky token, and the forced variation never enters them.

`/v1/preview` answers 200 `{"experience": {...}}` (the storefront element, reason `preview`,
with the variation's changes), 400 without `site` or `p`, 404 for an unknown site, 403
`preview_invalid` for a link that is forged, expired or names what no longer exists.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Final

from starlette.requests import Request
from starlette.responses import Response

from edge.services import services
from edge.web.errors import ApiError, BadRequest, NotFound
from edge.web.http import json_response
from targeting import Decision, DecisionStatus, Experience, Reason

PARAMETER: Final = "kx_preview"
DEFAULT_TTL_S: Final = 7 * 86_400
MAX_LINK: Final = 300
_PURPOSE: Final = b"kx-edge preview link v1\n"


class PreviewInvalid(ApiError):
    status, default_code = 403, "preview_invalid"


def _signature(secret: bytes, site_id: str, experience_id: str, variation_id: str, expires: int) -> str:
    message = _PURPOSE + "\n".join((site_id, experience_id, variation_id, str(expires))).encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def preview_value(secret: bytes, site_id: str, experience_id: str, variation_id: str, expires: int) -> str:
    """The `kx_preview` value forcing `variation_id` of `experience_id` until `expires` (epoch s).
    `~` is in no id's alphabet, so the value splits without ambiguity."""
    signature = _signature(secret, site_id, experience_id, variation_id, expires)
    return f"{experience_id}:{variation_id}~{expires}~{signature}"


def verify_preview(
    secret: bytes, site_id: str, value: str, experiences: dict[str, Experience], now: int
) -> tuple[Experience, str] | None:
    """The experience and variation a valid, current link forces; None for anything else.
    Ids may contain `:`, so every split that names an existing variation is tried."""
    parts = value.split("~")
    if len(value) > MAX_LINK or len(parts) != 3 or not parts[1].isdigit() or int(parts[1]) < now:
        return None
    ids, expires, signature = parts[0], int(parts[1]), parts[2]
    for at in (i for i, char in enumerate(ids) if char == ":"):
        experience = experiences.get(ids[:at])
        variation_id = ids[at + 1 :]
        if experience is None or all(v.id != variation_id for v in experience.variations):
            continue
        expected = _signature(secret, site_id, experience.id, variation_id, expires)
        if hmac.compare_digest(expected, signature):
            return experience, variation_id
    return None


def forced_element(experience: Experience, variation_id: str) -> dict[str, object]:
    """The storefront element a preview applies: entered, the variation's changes, reason `preview`."""
    variation = next(v for v in experience.variations if v.id == variation_id)
    decision = Decision(
        experience.id, experience.type, DecisionStatus.DECIDED, True, variation.id,
        variation.is_control, Reason.ASSIGNED, False, variation.changes,
    )  # fmt: skip
    return {**decision.to_dict(), "reason": "preview"}


async def preview_response(request: Request) -> Response:
    svc = services(request)
    public_key = request.query_params.get("site", "")
    value = request.query_params.get("p", "")
    if not public_key or not value:
        raise BadRequest(
            "site (the public key) and p (the kx_preview value) are required.", code="missing_preview"
        )
    runtime = None
    if len(public_key) <= 128:
        runtime = svc.runtimes.cached(public_key) or await svc.runtimes.by_public_key(public_key)
    if runtime is None:
        raise NotFound("No site has this public key.", code="site_not_found")
    headers = {"Cache-Control": "no-store", "Vary": "Origin"}
    origin = request.headers.get("origin")
    if origin is not None and origin in runtime.origins:
        headers["Access-Control-Allow-Origin"] = origin
    forced = verify_preview(runtime.secret, runtime.site.id, value, runtime.experiences, int(svc.clock()))
    if forced is None:
        raise PreviewInvalid(
            "This preview link is not valid or has expired: open a new one from the merchant page.",
            headers=headers,
        )
    return json_response({"experience": forced_element(*forced)}, headers=headers)
