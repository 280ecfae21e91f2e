"""`/v1/sites/{site_id}/experiences`: list, create, read, replace, delete, start / pause / end.

Every answer carries the experience's `version`, also sent as its ETag (`"3"`). `PUT`, `DELETE`
and the actions require `If-Match` (428 without, 412 with the current version when stale); `GET`
honours `If-None-Match` (304). Documents are validated by `targeting.parse_experience` (422 listing
every problem with its path; unknown fields are problems), then the lifecycle rules
(`edge.config_api.lifecycle`, 409), then the targeted segments (`edge.config_api.segment_checks`).
A `PUT` replaces the whole document: the body's `id` must be the URL's or absent, and its `version`
is ignored. A `POST` without an `id` gets a human one: a slug of the name, unique in the site
(`free-shipping-banner`, then `free-shipping-banner-2`, ...), so theme code can use readable
selectors (`html[data-kx-free-shipping-banner="banner"]`); a name with no letters or digits gets
`exp_` + 12 hex digits. Each
successful write reloads the site's runtime, so `/v1/assign` in this process sees it at once
(other workers notice the bumped `config_version` within about half a second).

Errors: 400 malformed JSON or query, 401, 404 (`experience_not_found`, or another site's), 409
(`experience_exists`, `invalid_transition`, `experience_ended`, `type_immutable`,
`experience_live`, `klaviyo_not_connected`), 412 `version_mismatch`, 413, 422
(`validation_failed`, `unknown_segment`), 428 `if_match_required`, 503 `klaviyo_unavailable`.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import unicodedata
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from edge.access.auth import require_site
from edge.config_api import etags, lifecycle
from edge.config_api.changes import running_test_warnings
from edge.config_api.documents import ApiWarning, ExperienceList, experience_view
from edge.config_api.segment_checks import check_segments
from edge.services import Services, services
from edge.store import ExperienceRecord, SiteRecord
from edge.store.errors import AlreadyExists, NotFoundInStore, VersionConflict
from edge.web.errors import BadRequest, Conflict, NotFound, Unprocessable
from edge.web.http import decode_json, json_response, read_body
from targeting import Experience, ExperienceStatus, ExperienceType, ValidationError, parse_experience

COLLECTION = "/v1/sites/{site_id}/experiences"
ITEM = COLLECTION + "/{experience_id}"


MAX_SLUG = 48
ID_ATTEMPTS = 5


def new_experience_id() -> str:
    return "exp_" + secrets.token_hex(6)


def slug(name: object) -> str:
    """`"Free shipping: VIPs!"` -> `"free-shipping-vips"` (accents dropped; "" when nothing is left)."""
    if not isinstance(name, str):
        return ""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:MAX_SLUG].strip("-")


def human_id(name: object, taken: set[str]) -> str:
    """The first of `slug`, `slug-2`, `slug-3`, ... not in `taken` (a random id for an empty slug)."""
    base = slug(name)
    if not base:
        return new_experience_id()
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def experience_path(site_id: str, experience_id: str) -> str:
    return f"/v1/sites/{site_id}/experiences/{experience_id}"


def _parse(document: dict[str, Any], what: str = "The experience") -> Experience:
    try:
        return parse_experience(document)
    except ValidationError as exc:
        count = len(exc.problems)
        raise Unprocessable(
            f"{what} is not valid ({count} problem{'s' if count != 1 else ''}): {exc}",
            code="validation_failed",
            details=exc.details(),
        ) from None


def _stored(experience: Experience) -> dict[str, Any]:
    """The document as the store keeps it: the canonical form, without `version` (a row field)."""
    body = experience.to_dict()
    body.pop("version", None)
    return body


def _answer(
    record: ExperienceRecord, warnings: list[ApiWarning] | None = None, status_code: int = 200
) -> Response:
    headers = {"ETag": etags.etag(record.version), "Cache-Control": "no-cache"}
    if status_code == 201:
        headers["Location"] = experience_path(record.site_id, record.id)
    return json_response(experience_view(record, warnings), status_code=status_code, headers=headers)


async def _current(svc: Services, site: SiteRecord, experience_id: str) -> ExperienceRecord:
    record = await svc.store.get_experience(site.id, experience_id)
    if record is None:
        raise NotFound(f"No experience {experience_id} in site {site.id}.", code="experience_not_found")
    return record


async def _document(request: Request, svc: Services) -> dict[str, Any]:
    return decode_json(await read_body(request, svc.settings.max_body_bytes), dict[str, Any])


async def _replace(
    svc: Services, site_id: str, experience: Experience, expected_version: int
) -> ExperienceRecord:
    try:
        record = await svc.store.replace_experience(
            site_id,
            experience.id,
            expected_version=expected_version,
            type=experience.type.value,
            status=experience.status.value,
            body=_stored(experience),
            now=svc.now(),
        )
    except VersionConflict as exc:  # another writer got in between our read and this write
        raise etags.stale(exc.current_version, f"Experience {experience.id}") from None
    except NotFoundInStore:
        raise NotFound(
            f"No experience {experience.id} in site {site_id}.", code="experience_not_found"
        ) from None
    await svc.runtimes.reload(site_id)
    return record


def _filter(request: Request, name: str, enum: type[ExperienceStatus] | type[ExperienceType]) -> str | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    choices = [str(member) for member in enum]
    if value not in choices:
        raise BadRequest(f"The {name} filter must be one of {', '.join(choices)}.", code="bad_query")
    return value


async def list_experiences(request: Request, site: SiteRecord) -> Response:
    """`?status=` and `?type=` narrow the list; experiences come in creation order.

    The list's ETag is the site's `config_version`, which every experience write bumps in its
    own transaction. It is read before the list, so a label is never newer than what it labels:
    a 304 can only confirm exactly what the client holds."""
    svc = services(request)
    status = _filter(request, "status", ExperienceStatus)
    kind = _filter(request, "type", ExperienceType)
    headers = {"ETag": etags.etag(site.config_version), "Cache-Control": "no-cache"}
    if etags.not_modified(request, site.config_version):
        return Response(status_code=304, headers=headers)
    records = [
        record
        for record in await svc.store.list_experiences(site.id)
        if (status is None or record.status == status) and (kind is None or record.type == kind)
    ]
    return json_response(ExperienceList([experience_view(record) for record in records]), headers=headers)


async def create_experience(request: Request, site: SiteRecord) -> Response:
    svc = services(request)
    document = await _document(request, svc)
    generated = "id" not in document
    taken: set[str] = set()
    if generated:
        taken = {record.id for record in await svc.store.list_experiences(site.id)}
        document["id"] = human_id(document.get("name"), taken)
    experience = _parse(document)
    lifecycle.check_initial(experience.status)
    warnings = await check_segments(request, site.id, experience)
    for _ in range(ID_ATTEMPTS):
        try:
            record = await svc.store.create_experience(
                site.id,
                experience.id,
                type=experience.type.value,
                status=experience.status.value,
                body=_stored(experience),
                now=svc.now(),
            )
            break
        except AlreadyExists:
            if not generated:
                raise Conflict(
                    f"Experience {experience.id} already exists in this site: choose another id, or leave "
                    "id out to have one generated.",
                    code="experience_exists",
                ) from None
            # Another writer took the same slug meanwhile: the next free one.
            taken.add(experience.id)
            experience = msgspec.structs.replace(experience, id=human_id(experience.name, taken))
    else:
        raise Conflict("No free id was found for this name: send an id.", code="experience_exists")
    await svc.runtimes.reload(site.id)
    return _answer(record, warnings, status_code=201)


async def get_experience(request: Request, site: SiteRecord) -> Response:
    record = await _current(services(request), site, request.path_params["experience_id"])
    if etags.not_modified(request, record.version):
        return Response(
            status_code=304, headers={"ETag": etags.etag(record.version), "Cache-Control": "no-cache"}
        )
    return _answer(record)


async def replace_experience(request: Request, site: SiteRecord) -> Response:
    svc = services(request)
    experience_id = request.path_params["experience_id"]
    current = await _current(svc, site, experience_id)
    etags.if_match(request, current.version, f"Experience {experience_id}")
    status_before = ExperienceStatus(current.status)
    lifecycle.check_not_ended(experience_id, status_before)
    document = await _document(request, svc)
    if document.setdefault("id", experience_id) != experience_id:
        raise Unprocessable(
            f"The id in the body must be {experience_id} (the id in the URL) or left out.",
            code="validation_failed",
            details=[{"path": "id", "message": f"must be {experience_id} (the id in the URL) or left out"}],
        )
    experience = _parse(document)
    lifecycle.check_change(
        experience_id, status_before, experience.status, ExperienceType(current.type), experience.type
    )
    warnings: list[ApiWarning] = []
    before: Experience | None = None
    # A stored document from an incompatible older version leaves nothing to compare with.
    with contextlib.suppress(ValidationError):
        before = parse_experience(current.body)
        warnings += running_test_warnings(before, experience, status_before)
    warnings += await check_segments(request, site.id, experience, before)
    return _answer(await _replace(svc, site.id, experience, current.version), warnings)


async def delete_experience(request: Request, site: SiteRecord) -> Response:
    svc = services(request)
    experience_id = request.path_params["experience_id"]
    current = await _current(svc, site, experience_id)
    etags.if_match(request, current.version, f"Experience {experience_id}")
    lifecycle.check_delete(experience_id, ExperienceStatus(current.status))
    try:
        await svc.store.delete_experience(site.id, experience_id, expected_version=current.version)
    except VersionConflict as exc:
        raise etags.stale(exc.current_version, f"Experience {experience_id}") from None
    except NotFoundInStore:
        raise NotFound(
            f"No experience {experience_id} in site {site.id}.", code="experience_not_found"
        ) from None
    await svc.runtimes.reload(site.id)
    return Response(status_code=204)


async def run_action(request: Request, site: SiteRecord, action: str) -> Response:
    """`start`, `pause` or `end`: the lifecycle buttons, a status change guarded like a PUT."""
    svc = services(request)
    experience_id = request.path_params["experience_id"]
    target = lifecycle.ACTIONS[action]
    current = await _current(svc, site, experience_id)
    etags.if_match(request, current.version, f"Experience {experience_id}")
    lifecycle.check_action(experience_id, ExperienceStatus(current.status), target)
    stored = _parse(current.body, f"Stored experience {experience_id}")
    experience = msgspec.structs.replace(stored, status=target)
    warnings = await check_segments(request, site.id, experience, stored)
    return _answer(await _replace(svc, site.id, experience, current.version), warnings)


async def collection(request: Request) -> Response:
    site = await require_site(request)
    if request.method == "POST":
        return await create_experience(request, site)
    return await list_experiences(request, site)


async def item(request: Request) -> Response:
    site = await require_site(request)
    if request.method == "PUT":
        return await replace_experience(request, site)
    if request.method == "DELETE":
        return await delete_experience(request, site)
    return await get_experience(request, site)


def _action_endpoint(name: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await run_action(request, await require_site(request), name)

    endpoint.__name__ = f"{name}_experience"
    return endpoint


# One route per path, so a wrong method answers 405 with the path's full Allow list.
routes: list[BaseRoute] = [
    Route(COLLECTION, collection, methods=["GET", "POST"]),
    Route(ITEM, item, methods=["GET", "PUT", "DELETE"]),
    *(Route(f"{ITEM}/{name}", _action_endpoint(name), methods=["POST"]) for name in lifecycle.ACTIONS),
]
