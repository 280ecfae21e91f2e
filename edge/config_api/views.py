"""Response bodies of the configuration API besides experiences and explain, as msgspec types.

`SegmentList` is built by the segments endpoint. The site and Klaviyo-connection views mirror
what `edge/config_api/sites.py` and `edge/connect/routes.py` answer today (a site's
`to_public_dict()`, oauth's `connection_status()` plus the keys those routes add), so the OpenAPI
document can show them; schemathesis checks the live answers against them.
"""

from __future__ import annotations

from typing import Any

from msgspec import UNSET, Struct, UnsetType

from oauth.connection import ConnectionStatus


class ErrorBody(Struct):
    code: str
    message: str
    details: Any | UnsetType = UNSET


class ErrorResponse(Struct):
    """Every error: a stable `code`, a sentence for people, and `details` where there are any
    (the problems with their paths for 422, `current_version` for 412, ...)."""

    error: ErrorBody


class Segment(Struct):
    id: str
    name: str
    is_active: bool
    is_starred: bool


class SegmentList(Struct):
    """The account's segments, starred first, then by name; `fetched_at`: when kx-edge read them
    from Klaviyo (unix seconds; the list is kept 60 s)."""

    segments: list[Segment]
    fetched_at: int


class SiteView(Struct):
    id: str
    name: str
    public_key: str
    allowed_origins: list[str]
    config_version: int
    created_at: int
    updated_at: int
    # After a rotation: until when the replaced api key still opens the site (unix seconds).
    previous_key_valid_until: int | None


class SiteCreated(SiteView):
    """The new site; `api_key` is shown this once (kx-edge keeps only its hash)."""

    api_key: str


class SiteList(Struct):
    sites: list[SiteView]


class ConnectionView(Struct):
    """The connection status every Klaviyo route answers (`oauth.connection.connection_status`)."""

    status: ConnectionStatus
    account_id: str | None
    account_name: str | None
    scopes: list[str]
    missing_scopes: list[str]
    connected_at: int | None
    last_refresh_at: int | None
    last_error: str | None
    generation: int


class KlaviyoStatus(ConnectionView):
    klaviyo_configured: bool
    # Per targeted segment: state, members, last full / incremental sync, last error.
    segment_sync: list[dict[str, Any]] | None = None


class KlaviyoDisconnected(ConnectionView):
    revoked: bool
    was_connected: bool


class ConnectStarted(Struct):
    """Send the merchant's browser to `authorize_url` (valid `expires_in` seconds)."""

    authorize_url: str
    scopes: list[str]
    expires_in: int


class Health(Struct):
    """`GET /healthz`: the process serves."""

    status: str


class Readiness(Struct):
    """`GET /readyz`: `checks` names each dependency (`store`, and `redis` when configured) with
    `ok` or `failing`; `ready` is true when all are ok (the status is then 200, else 503)."""

    ready: bool
    checks: dict[str, str]
