"""`POST /api/events` and `POST /api/event-bulk-create-jobs`: 202 with an empty body."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from sandbox.event_log import DuplicateInBatch
from sandbox.event_validation import parse_bulk, parse_event
from sandbox.guard import ApiContext
from sandbox.jsonapi import document, invalid

MAX_BODY_BYTES = 5 * 1024 * 1024


async def _json(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise invalid("The payload exceeds 5 MB.", pointer="/")
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise invalid("The body is not valid JSON.", pointer="/") from None


async def create_event(request: Request, context: ApiContext) -> Response:
    event = parse_event(await _json(request), now=context.state.clock())
    context.state.event_log.record(context.account_id, event)
    return document(None, status=202)


async def create_event_bulk_job(request: Request, context: ApiContext) -> Response:
    events = parse_bulk(await _json(request), now=context.state.clock())
    try:
        context.state.event_log.record_batch(context.account_id, events)
    except DuplicateInBatch as error:
        raise invalid(str(error), pointer="/data/attributes/events-bulk-create/data") from None
    return document(None, status=202)
