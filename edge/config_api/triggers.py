"""`GET|PUT /v1/sites/{site_id}/klaviyo/triggers` and `GET .../klaviyo/triggers/status`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from edge.access.auth import require_site
from edge.events.component import Events, events_of
from edge.events.status import status_view, triggers_view
from edge.events.triggers import Trigger
from edge.events.views import Switch, TriggersPut
from edge.services import services
from edge.web.errors import ServiceUnavailable
from edge.web.http import decode_json, json_response, read_body
from edge.web.routing import method_route


def _events(request: Request) -> Events:
    events = events_of(services(request))
    if events is None:
        raise ServiceUnavailable("Event triggers are not running on this kx-edge.", code="events_unavailable")
    return events


async def get_triggers(request: Request) -> Response:
    site = await require_site(request)
    return json_response(await triggers_view(_events(request), site.id))


async def put_triggers(request: Request) -> Response:
    site = await require_site(request)
    events = _events(request)
    body = decode_json(await read_body(request, services(request).settings.max_body_bytes), TriggersPut)
    changes = {t: switch.enabled for t in Trigger if isinstance(switch := getattr(body, t.value), Switch)}
    await events.switches.put(site.id, changes)
    return json_response(await triggers_view(events, site.id))


async def get_status(request: Request) -> Response:
    site = await require_site(request)
    return json_response(await status_view(_events(request), site.id))


routes = [
    # One route for both methods, so a wrong method's 405 lists GET and PUT in `Allow`.
    method_route("/v1/sites/{site_id}/klaviyo/triggers", {"GET": get_triggers, "PUT": put_triggers}),
    Route("/v1/sites/{site_id}/klaviyo/triggers/status", get_status, methods=["GET"]),
]
