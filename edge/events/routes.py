"""`GET|PUT /v1/sites/{site_id}/klaviyo/triggers` and `GET .../klaviyo/triggers/status`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from edge.auth import require_site
from edge.errors import ServiceUnavailable
from edge.events.component import Events, events_of
from edge.events.status import status_view, triggers_view
from edge.events.triggers import Trigger
from edge.events.views import Switch, TriggersPut
from edge.http import decode_json, json_response, read_body
from edge.services import services


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
    Route("/v1/sites/{site_id}/klaviyo/triggers", get_triggers, methods=["GET"]),
    Route("/v1/sites/{site_id}/klaviyo/triggers", put_triggers, methods=["PUT"]),
    Route("/v1/sites/{site_id}/klaviyo/triggers/status", get_status, methods=["GET"]),
]
