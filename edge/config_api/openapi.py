"""`GET /openapi.json`: the OpenAPI 3.1 document of the configuration API and the storefront.

Bodies are not written by hand: their schemas are generated with `msgspec.json.schema_components`
from the types the handlers decode or answer with (`ExperienceDocument`/`ExperienceView`,
`ExplainRequest`/`ExplainResponse` with targeting's own trace types, `SegmentList`, the sites
route's `SiteCreate`/`SitePatch`/`KeyRotated`/`SiteDeleted`, the storefront's `AssignRequest`/`AssignResponse`, the
triggers' `TriggersPut`/`TriggersView`/`TriggersStatus`, ...). Paths,
parameters, status codes, headers and security are described here in code, one `Op` per
operation; each operation's example request and answer come from `examples.py` by operation
id, and `servers` names the app's `public_url`. The document is built once per app and kept on
its state; `/docs` (`api_docs.py`) renders it for people.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from edge.config_api.api_docs import DOCS_PATH
from edge.config_api.documents import (
    EXPERIENCE_TYPES,
    REF_TEMPLATE,
    ExperienceDocument,
    ExperienceList,
    ExperienceView,
)
from edge.config_api.examples import EXAMPLES, PATH_EXAMPLES
from edge.config_api.explaining import ExplainRequest, ExplainResponse
from edge.config_api.preview_links import PreviewLinks, PreviewLinksRequest
from edge.config_api.results_report import Breakdown, ResultsReport
from edge.config_api.site_keys import ROTATE_PATH, KeyRotated
from edge.config_api.site_removal import SiteDeleted
from edge.config_api.sites import SiteCreate, SitePatch
from edge.config_api.transfer import (
    EXPORT_PATH,
    IMPORT_PATH,
    ExperiencesExport,
    ImportResult,
    ImportStatus,
    OnConflict,
)
from edge.config_api.views import (
    ConnectStarted,
    ErrorResponse,
    Health,
    KlaviyoDisconnected,
    KlaviyoStatus,
    Readiness,
    SegmentList,
    SiteCreated,
    SiteList,
    SiteView,
)
from edge.events.views import TriggersPut, TriggersStatus, TriggersView
from edge.services import services
from edge.storefront.wire import AssignRequest, AssignResponse, PreviewAnswer
from targeting import ExperienceStatus, ExperienceType

OPENAPI_PATH: Final = "/openapi.json"
_STATE_ATTRIBUTE: Final = "openapi_document"
Security = tuple[dict[str, list[str]], ...]
SITE: Final[Security] = ({"siteKey": []}, {"operatorToken": []})
OPERATOR: Final[Security] = ({"operatorToken": []},)
PUBLIC: Final[Security] = ()

_ERRORS: Final = {
    400: "Malformed JSON, query or headers.",
    401: "Credentials are missing or wrong.",
    403: "Not allowed: the Origin (assign), the preview link, or a replaced api key (rotate-key).",
    404: "No such resource here (also another site's: ids cannot be probed).",
    409: "The change conflicts with the resource's state (lifecycle, connection, duplicates).",
    412: "If-Match names an older version; `details.current_version` is the current one.",
    413: "The request body is too large.",
    422: "The body does not validate; `details` lists every problem with its path.",
    428: "If-Match is required.",
    503: "A dependency (Klaviyo) is not configured or did not answer; see Retry-After when present.",
}
_HEADERS: Final = {
    "ETag": 'The version, quoted (`"3"`): send it back in If-Match.',
    "Location": "The new resource's URL.",
    "Retry-After": "Seconds after which trying again may succeed.",
    "WWW-Authenticate": "The authentication scheme (Bearer).",
}


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    description: str
    body: type[Any] | None = None
    headers: tuple[str, ...] = ()
    media_type: str = "application/json"
    links_to: tuple[str, ...] = ()  # operations on the experience this answer names (OpenAPI links)


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    where: str  # query | header
    schema: dict[str, Any]
    description: str
    required: bool = False


@dataclass(frozen=True, slots=True)
class Op:
    method: str
    path: str
    operation_id: str
    summary: str
    tag: str
    answers: tuple[Answer, ...]
    errors: tuple[int, ...]
    security: Security = SITE
    request: type[Any] | None = None
    request_media_types: tuple[str, ...] = ("application/json",)
    params: tuple[Param, ...] = ()
    description: str = ""


IF_MATCH: Final = Param(
    "If-Match", "header", {"type": "string"}, 'The ETag you read (`"3"`); `*` matches any version.', True
)
IF_NONE_MATCH: Final = Param(
    "If-None-Match", "header", {"type": "string"}, "An ETag you hold: 304 if still current."
)
_EXPERIENCE = "/v1/sites/{site_id}/experiences"
_ITEM = _EXPERIENCE + "/{experience_id}"
_TRIGGERS = "/v1/sites/{site_id}/klaviyo/triggers"
_WRITE_ERRORS = (400, 401, 404, 409, 413, 422, 503)
_ITEM_OPERATIONS = ("getExperience", "replaceExperience", "deleteExperience", "startExperience",
                    "pauseExperience", "endExperience")  # fmt: skip


_RESULTS_PARAMS: Final = (
    Param("from", "query", {"type": "string", "format": "date"},
          "First day (YYYY-MM-DD, UTC, inclusive) visitors entered on; absent: since the start."),
    Param("to", "query", {"type": "string", "format": "date"},
          "Last day (YYYY-MM-DD, UTC, inclusive); absent: up to today."),
    Param("breakdown", "query", {"enum": [str(b) for b in Breakdown]},
          "audience: a report per audience that admitted visitors; day: a cumulative daily series."),
)  # fmt: skip


def _action(name: str, summary: str) -> Op:
    return Op(
        "POST", f"{_ITEM}/{name}", f"{name}Experience", summary, "experiences",
        (Answer(200, "The experience with its new status and version.", ExperienceView, ("ETag",)),),
        (401, 404, 409, 412, 422, 428, 503), params=(IF_MATCH,),
    )  # fmt: skip


OPERATIONS: Final[tuple[Op, ...]] = (
    Op("POST", "/v1/sites", "createSite", "Create a site (operator).", "sites",
       (Answer(201, "The site, with its api_key shown once.", SiteCreated),), (400, 401, 413, 422),
       security=OPERATOR, request=SiteCreate),
    Op("GET", "/v1/sites", "listSites", "List sites (operator).", "sites",
       (Answer(200, "Every site.", SiteList),), (401,), security=OPERATOR),
    Op("GET", "/v1/sites/{site_id}", "getSite", "Read a site.", "sites",
       (Answer(200, "The site.", SiteView),), (401, 404)),
    Op("PATCH", "/v1/sites/{site_id}", "updateSite", "Change a site's name or allowed origins.", "sites",
       (Answer(200, "The site.", SiteView),), (400, 401, 404, 413, 422), request=SitePatch),
    Op("DELETE", "/v1/sites/{site_id}", "deleteSite", "Delete a site and its data (operator).", "sites",
       (Answer(200, "The site is gone; its Klaviyo connection was revoked.", SiteDeleted),), (401, 404),
       security=OPERATOR,
       description="Revokes the site's Klaviyo connection at Klaviyo, deletes its experiences, connection, "
                   "sessions, switches and events, and the storefront answers 404 for its public key."),
    Op("POST", ROTATE_PATH, "rotateSiteKey", "Issue a new api key (the old one keeps a grace period).",
       "sites", (Answer(200, "The new api key, shown this once.", KeyRotated),), (401, 403, 404),
       description="The replaced key keeps opening the site for `key_rotation_grace_s` (default 24 h), "
                   "then it is refused (401); a second rotation ends the older key at once, and the "
                   "replaced key cannot rotate (403 `current_key_required`). The site's merchant-page "
                   "sessions end, except the one that rotated."),
    Op("GET", _EXPERIENCE, "listExperiences", "List experiences, oldest first.", "experiences",
       (Answer(200, "The experiences; the ETag changes whenever any of the site's does.", ExperienceList,
               ("ETag",)),
        Answer(304, "Not modified: If-None-Match names the current list.", None, ("ETag",))),
       (400, 401, 404),
       params=(
           Param("status", "query", {"enum": [str(s) for s in ExperienceStatus]}, "Only this status."),
           Param("type", "query", {"enum": [str(t) for t in ExperienceType]}, "Only this type."),
           IF_NONE_MATCH,
       )),
    Op("POST", _EXPERIENCE, "createExperience", "Create an experience (as draft, or live to start it).",
       "experiences",
       (Answer(201, "The stored experience, with warnings.", ExperienceView, ("ETag", "Location"),
               links_to=_ITEM_OPERATIONS),),
       _WRITE_ERRORS, request=ExperienceDocument),
    Op("GET", _ITEM, "getExperience", "Read an experience.", "experiences",
       (Answer(200, "The experience.", ExperienceView, ("ETag",)),
        Answer(304, "Not modified: If-None-Match names the current version.", None, ("ETag",))),
       (401, 404), params=(IF_NONE_MATCH,)),
    Op("PUT", _ITEM, "replaceExperience", "Replace an experience (the whole document).", "experiences",
       (Answer(200, "The stored experience, with warnings.", ExperienceView, ("ETag",)),),
       (*_WRITE_ERRORS, 412, 428), request=ExperienceDocument, params=(IF_MATCH,),
       description="The body's id must be the URL's or absent; a status change must be an allowed "
       "transition (draft -> live|ended, live -> paused|ended, paused -> live|ended; ended is final)."),
    Op("DELETE", _ITEM, "deleteExperience", "Delete an experience (not while live).", "experiences",
       (Answer(204, "Deleted."),), (401, 404, 409, 412, 428), params=(IF_MATCH,)),
    Op("POST", f"{_ITEM}/preview-links", "previewLinks", "Signed 'preview on store' links, one per variation.",
       "experiences", (Answer(200, "The links and when they expire.", PreviewLinks),),
       (400, 401, 404, 409, 413, 422), request=PreviewLinksRequest,
       description="Opening a link forces its variation in that browser only (a session cookie), with a "
       "badge to exit; the signature stops visitors from picking a variation."),
    _action("start", "Start (draft or paused -> live)."),
    _action("pause", "Pause (live -> paused)."),
    _action("end", "End (-> ended, final)."),
    Op("GET", f"{_ITEM}/results", "getResults", "The experience's results: each variation against the control.",
       "results", (Answer(200, "Counts, rates, lifts with 95% intervals, chance to beat control, the split "
                           "check and warnings.", ResultsReport),),
       (401, 404, 422), params=_RESULTS_PARAMS,
       description="Visitors count once, on the day they entered; their orders follow them, so a range "
       "of days selects cohorts of visitors. The control's lift and chance_to_beat_control are null."),
    Op("GET", f"{_ITEM}/results.csv", "getResultsCsv", "The same results as CSV (one row per variation).",
       "results", (Answer(200, "The CSV, as an attachment.", str, media_type="text/csv"),),
       (401, 404, 422), params=_RESULTS_PARAMS,
       description="With breakdown=audience one row per audience and variation; with breakdown=day one "
       "row per day and variation, cumulative through that day."),
    Op("GET", EXPORT_PATH, "exportExperiences", "Every experience of the site, as one document.",
       "experiences", (Answer(200, "The export: POST it to another site's import.", ExperiencesExport),),
       (401, 404)),
    Op("POST", IMPORT_PATH, "importExperiences", "Import experiences from an export (all or nothing).",
       "experiences", (Answer(200, "What was created, replaced and skipped, with warnings.", ImportResult),),
       (400, 401, 404, 409, 413, 422, 503), request=ExperiencesExport,
       params=(
           Param("on_conflict", "query", {"enum": [str(c) for c in OnConflict], "default": "fail"},
                 "An id the site already has: fail (409, nothing imported), skip it, or replace it."),
           Param("status", "query", {"enum": [str(s) for s in ImportStatus], "default": "draft"},
                 "draft: new experiences arrive as drafts, replaced ones keep their status; keep: the "
                 "exported statuses (lifecycle rules apply)."),
       ),
       description="The whole document is validated before anything is written (paths are prefixed "
       "experiences[i].). Segment ids must exist in the site's Klaviyo account."),
    Op("GET", "/v1/sites/{site_id}/klaviyo", "getKlaviyoConnection", "The Klaviyo connection's status.",
       "klaviyo", (Answer(200, "The connection.", KlaviyoStatus),), (401, 404)),
    Op("POST", "/v1/sites/{site_id}/klaviyo/connect", "connectKlaviyo", "Start connecting Klaviyo (OAuth).",
       "klaviyo", (Answer(200, "Where to send the merchant's browser.", ConnectStarted),), (401, 404, 503)),
    Op("DELETE", "/v1/sites/{site_id}/klaviyo", "disconnectKlaviyo", "Disconnect Klaviyo (revokes the tokens).",
       "klaviyo", (Answer(200, "The connection, now disconnected.", KlaviyoDisconnected),), (401, 404, 503)),
    Op("GET", "/v1/sites/{site_id}/klaviyo/segments", "listSegments",
       "The connected account's segments, starred first (cached 60 s).", "klaviyo",
       (Answer(200, "The segments.", SegmentList),), (400, 401, 404, 409, 503),
       params=(Param("q", "query", {"type": "string", "maxLength": 200}, "Part of a name (any case)."),)),
    Op("GET", _TRIGGERS, "getTriggers", "The event triggers: switches, metric names and properties.",
       "events", (Answer(200, "Each trigger, and what sending needs that the connection lacks.", TriggersView),),
       (401, 404, 503)),
    Op("PUT", _TRIGGERS, "updateTriggers", "Switch event triggers on or off (any subset).", "events",
       (Answer(200, "Each trigger after the change.", TriggersView),), (400, 401, 404, 413, 422, 503),
       request=TriggersPut,
       description="A trigger on sends its Klaviyo event for visits from then on; switching on asks "
       "nothing of Klaviyo, but sending needs the events:write scope (see missing_scopes)."),
    Op("GET", f"{_TRIGGERS}/status", "getTriggersStatus",
       "Are events reaching Klaviyo? Counts, errors and hints per trigger.", "events",
       (Answer(200, "The last 24 hours per trigger, the outbox, and troubleshooting hints.",
               TriggersStatus),), (401, 404, 503)),
    Op("POST", "/v1/sites/{site_id}/explain", "explain", "Explain every decision for one visitor.", "explain",
       (Answer(200, "Identity, sticky entries, and per experience the decision, trace and summary.",
               ExplainResponse),),
       (400, 401, 404, 413, 422), request=ExplainRequest),
    Op("POST", "/v1/assign", "assign", "Decide every live experience for a storefront visitor.", "storefront",
       (Answer(200, "The decisions and the next sticky token.", AssignResponse),),
       (400, 403, 404, 413, 422), security=PUBLIC, request=AssignRequest,
       request_media_types=("application/json", "text/plain"),
       params=(Param("site", "query", {"type": "string", "minLength": 1}, "The site's public key.", True),),
       description="The snippet sends the JSON body as text/plain (a CORS simple request: no preflight)."),
    Op("GET", "/v1/preview", "preview", "The experience a preview link forces (used by the snippet).",
       "storefront", (Answer(200, "The forced experience element, reason preview, with its changes.",
                             PreviewAnswer),),
       (400, 403, 404), security=PUBLIC,
       params=(Param("site", "query", {"type": "string", "minLength": 1}, "The site's public key.", True),
               Param("p", "query", {"type": "string", "minLength": 1}, "The kx_preview value.", True))),
    Op("GET", "/v1/snippet.js", "snippet", "The storefront snippet.", "storefront",
       (Answer(200, "The JavaScript.", str, media_type="application/javascript"),
        Answer(304, "Not modified.", None, ("ETag",))),
       (), security=PUBLIC,
       params=(Param("site", "query", {"type": "string"}, "The site's public key (read by the snippet)."),
               IF_NONE_MATCH)),
    Op("GET", OPENAPI_PATH, "openapi", "This document.", "meta",
       (Answer(200, "The OpenAPI document.", dict[str, Any]),), (), security=PUBLIC),
    Op("GET", DOCS_PATH, "apiDocs", "This document for people (Swagger UI, served locally).", "meta",
       (Answer(200, "The page.", str, media_type="text/html"),), (), security=PUBLIC),
    Op("GET", "/healthz", "healthz", "Liveness: the process serves.", "meta",
       (Answer(200, "Serving.", Health),), (), security=PUBLIC),
    Op("GET", "/readyz", "readyz", "Readiness: the store and (when configured) Redis answer.", "meta",
       (Answer(200, "Ready.", Readiness), Answer(503, "Not ready: see which check fails.", Readiness)),
       (), security=PUBLIC),
)  # fmt: skip


def _path_params(path: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        | ({"example": PATH_EXAMPLES[name]} if name in PATH_EXAMPLES else {})
        for name in re.findall(r"{(\w+)}", path)
    ]


def _param(param: Param) -> dict[str, Any]:
    return {
        "name": param.name,
        "in": param.where,
        "required": param.required,
        "description": param.description,
        "schema": param.schema,
    }


def _headers(names: tuple[str, ...], required: bool = True) -> dict[str, Any]:
    return {
        name: {"description": _HEADERS[name], "required": required, "schema": {"type": "string"}}
        for name in names
    }


def _link(operation_id: str) -> dict[str, Any]:
    """From a created experience to an operation on it, If-Match included where it takes one."""
    parameters = {"path.site_id": "$request.path.site_id", "path.experience_id": "$response.body#/id"}
    if operation_id != "getExperience":
        parameters["header.If-Match"] = "$response.header.ETag"
    return {"operationId": operation_id, "parameters": parameters}


def _operation(op: Op, schema_of: dict[type[Any], dict[str, Any]]) -> dict[str, Any]:
    example = EXAMPLES.get(op.operation_id)
    responses: dict[str, Any] = {}
    for index, answer in enumerate(op.answers):
        response: dict[str, Any] = {"description": answer.description}
        if answer.body is not None:
            response["content"] = {answer.media_type: {"schema": schema_of[answer.body]}}
            if index == 0 and example is not None and example.answer is not None:
                response["content"][answer.media_type]["example"] = example.answer
        if answer.headers:
            response["headers"] = _headers(answer.headers)
        if answer.links_to:
            response["links"] = {name: _link(name) for name in answer.links_to}
        responses[str(answer.status)] = response
    for status in op.errors:
        error: dict[str, Any] = {
            "description": _ERRORS[status],
            "content": {"application/json": {"schema": schema_of[ErrorResponse]}},
        }
        optional = {401: ("WWW-Authenticate",), 412: ("ETag",), 428: ("ETag",), 503: ("Retry-After",)}
        if status in optional:
            error["headers"] = _headers(optional[status], required=False)
        responses[str(status)] = error
    operation: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": _path_params(op.path) + [_param(p) for p in op.params],
        "responses": responses,
        "security": list(op.security),
    }
    if op.description:
        operation["description"] = op.description
    if op.request is not None:
        schema = schema_of[op.request]
        sample = {"example": example.request} if example is not None and example.request is not None else {}
        operation["requestBody"] = {
            "required": True,
            "content": {media_type: {"schema": schema} | sample for media_type in op.request_media_types},
        }
    return operation


def build_openapi(server_url: str = "/") -> dict[str, Any]:
    """The whole document (a fresh dict each call); `server_url`: where this kx-edge answers
    (its `public_url`; "/" means wherever the document was read from)."""
    types: list[Any] = [ErrorResponse, *EXPERIENCE_TYPES, str]
    for op in OPERATIONS:
        types += [a.body for a in op.answers if a.body is not None]
        if op.request is not None:
            types.append(op.request)
    unique = list(dict.fromkeys(types))
    schemas, components = msgspec.json.schema_components(unique, ref_template=REF_TEMPLATE)
    schema_of = dict(zip(unique, schemas, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, schema_of)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "kx-edge",
            "version": "1",
            "description": "Storefront personalization and A/B tests targeted by Klaviyo segments: "
            "the configuration API (`Authorization: Bearer <site api_key>`, or the operator token) "
            'and the storefront endpoints. Errors are `{"error": {"code", "message", "details"?}}`. '
            "Every operation shows an example request and answer.",
        },
        "servers": [{"url": server_url, "description": "this kx-edge service"}],
        "tags": [{"name": name} for name in dict.fromkeys(op.tag for op in OPERATIONS)],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "siteKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The site's api_key (sk_...).",
                },
                "operatorToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "KX_EDGE_OPERATOR_TOKEN.",
                },
            },
        },
    }


async def openapi_json(request: Request) -> Response:
    state = request.app.state
    body: bytes | None = getattr(state, _STATE_ATTRIBUTE, None)
    if body is None:
        body = msgspec.json.encode(build_openapi(services(request).settings.public_url or "/"))
        setattr(state, _STATE_ATTRIBUTE, body)
    return Response(body, media_type="application/json")


routes: list[BaseRoute] = [Route(OPENAPI_PATH, openapi_json, methods=["GET"])]
