"""`GET /v1/sites/{site_id}/export` and `POST /v1/sites/{site_id}/import`: a site's experiences
as one JSON document, to copy a set-up from one site to another (staging to production).

The export is every experience as `PUT` would take it (ids, statuses, targeting, variations,
seeds; no versions or times). Importing it into another site:

- validates the whole document first (every experience as `POST` would, each problem's path
  prefixed `experiences[i].`; the same id twice is a problem), and writes nothing on any error;
- `status=draft` (default): new experiences arrive as drafts and replaced ones keep their own
  status, so nothing starts serving by surprise; `status=keep`: each takes its exported status,
  under the lifecycle's rules (a new one may be draft or live; 409 otherwise);
- `on_conflict=fail` (default): an id the site already has is 409 `experiences_exist` listing
  them; `skip` leaves those untouched; `replace` replaces them like a `PUT` would (ended ones
  are final: 409);
- checks the targeted segments against the site's Klaviyo account like `POST` and `PUT` do:
  segment ids belong to a Klaviyo account, so two sites connected to different accounts need the
  ids changed in the document first (422 `unknown_segment` names each path).

Keeping the seed keeps bucketing: a visitor lands in the same variation on both sites. The
writes are one store call per experience after validation; an experience changed by someone else
between the validation and its write stops the import there (409 `concurrent_change`, naming it),
with the experiences before it written.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final

import msgspec
from msgspec import Struct
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from edge.access.auth import require_site
from edge.config_api import lifecycle
from edge.config_api.changes import running_test_warnings
from edge.config_api.documents import ApiWarning, ExperienceDocument
from edge.config_api.experiences import new_experience_id
from edge.config_api.segment_checks import check_segments
from edge.services import Services, services
from edge.store import ExperienceRecord, SiteRecord
from edge.store.errors import AlreadyExists, NotFoundInStore, VersionConflict
from edge.web.errors import ApiError, BadRequest, Conflict, Unprocessable
from edge.web.http import decode_json, json_response, read_body
from targeting import Experience, ExperienceStatus, ExperienceType, ValidationError, parse_experience

FORMAT: Final = "kx-edge.experiences/1"
EXPORT_PATH: Final = "/v1/sites/{site_id}/export"
IMPORT_PATH: Final = "/v1/sites/{site_id}/import"
MAX_IMPORTED: Final = 1000


class OnConflict(StrEnum):
    FAIL = "fail"
    SKIP = "skip"
    REPLACE = "replace"


class ImportStatus(StrEnum):
    DRAFT = "draft"
    KEEP = "keep"


class ExportedSite(Struct):
    id: str
    name: str


class ExperiencesExport(Struct, kw_only=True):
    """A site's experiences; `POST .../import` takes it as it is (`site` and `exported_at` are
    for people and are not needed there)."""

    format: str = FORMAT
    experiences: list[ExperienceDocument]
    site: ExportedSite | None = None
    exported_at: int | None = None


class _ImportBody(Struct, kw_only=True):
    format: str = FORMAT
    experiences: list[Any]
    site: dict[str, Any] | None = None
    exported_at: int | None = None


class ImportWarning(Struct):
    experience_id: str
    code: str
    message: str


class ImportResult(Struct):
    """What the import did: ids created, replaced and skipped (`on_conflict=skip`), and the
    warnings of the writes (unverified or inactive segments, running tests changed)."""

    created: list[str]
    replaced: list[str]
    skipped: list[str]
    warnings: list[ImportWarning]


async def export_experiences(request: Request) -> Response:
    site = await require_site(request)
    svc = services(request)
    records = await svc.store.list_experiences(site.id)
    # Built as plain data: the stored documents are already canonical (and `ExperiencesExport`
    # would add `"version": null` to each).
    document = {
        "format": FORMAT,
        "experiences": [_exported(record) for record in records],
        "site": {"id": site.id, "name": site.name},
        "exported_at": svc.now(),
    }
    disposition = f'attachment; filename="{site.id}-experiences.json"'
    return json_response(document, headers={"Content-Disposition": disposition, "Cache-Control": "no-store"})


def _exported(record: ExperienceRecord) -> dict[str, Any]:
    return {k: v for k, v in record.body.items() if k not in {"version", "created_at", "updated_at"}}


async def import_experiences(request: Request) -> Response:
    site = await require_site(request)
    svc = services(request)
    on_conflict = _option(request, "on_conflict", OnConflict, OnConflict.FAIL)
    keep_status = _option(request, "status", ImportStatus, ImportStatus.DRAFT) is ImportStatus.KEEP
    body = decode_json(await read_body(request, svc.settings.import_max_body_bytes), _ImportBody)
    if body.format != FORMAT:
        raise Unprocessable(
            f"This is not a kx-edge experiences export (format {body.format!r}, expected {FORMAT!r}).",
            code="validation_failed",
            details=[{"path": "format", "message": f"must be {FORMAT}"}],
        )
    if len(body.experiences) > MAX_IMPORTED:
        raise Unprocessable(
            f"At most {MAX_IMPORTED} experiences per import.",
            code="validation_failed",
            details=[{"path": "experiences", "message": f"at most {MAX_IMPORTED} experiences"}],
        )
    experiences = _parse_all(body.experiences, keep_status)
    existing = {record.id: record for record in await svc.store.list_experiences(site.id)}
    clashing = [e.id for e in experiences if e.id in existing]
    if clashing and on_conflict is OnConflict.FAIL:
        raise Conflict(
            f"The site already has experiences with these ids: {', '.join(clashing)}. Import with "
            "on_conflict=skip to leave them as they are, or on_conflict=replace to replace them.",
            code="experiences_exist",
            details={"ids": clashing},
        )
    plan: list[tuple[Experience, ExperienceRecord | None]] = []
    skipped: list[str] = []
    warnings: list[ImportWarning] = []
    for index, experience in enumerate(experiences):
        current = existing.get(experience.id)
        if current is not None and on_conflict is OnConflict.SKIP:
            skipped.append(experience.id)
            continue
        prepared, found = await _prepare(request, site, index, experience, current, keep_status)
        plan.append((prepared, current))
        warnings += [ImportWarning(prepared.id, w.code, w.message) for w in found]
    result = ImportResult(created=[], replaced=[], skipped=skipped, warnings=warnings)
    try:
        for experience, current in plan:
            await _write(svc, site, experience, current)
            (result.created if current is None else result.replaced).append(experience.id)
    finally:
        if result.created or result.replaced:
            await svc.runtimes.reload(site.id)
    return json_response(result)


def _option(request: Request, name: str, enum: type[Any], default: Any) -> Any:
    value = request.query_params.get(name)
    if value is None:
        return default
    try:
        return enum(value)
    except ValueError:
        choices = ", ".join(str(member) for member in enum)
        raise BadRequest(f"The {name} parameter must be one of {choices}.", code="bad_query") from None


def _parse_all(documents: list[Any], keep_status: bool) -> list[Experience]:
    """Every document parsed, or one 422 listing every problem of every document."""
    problems: list[dict[str, str]] = []
    parsed: list[Experience] = []
    seen: set[str] = set()
    for index, document in enumerate(documents):
        prefix = f"experiences[{index}]"
        if not isinstance(document, dict):
            problems.append({"path": prefix, "message": "an experience must be a JSON object"})
            continue
        document = dict(document)
        document.setdefault("id", new_experience_id())
        if not keep_status:
            document["status"] = "draft"
        try:
            experience = parse_experience(document)
        except ValidationError as exc:
            problems += [
                {"path": f"{prefix}.{p['path']}" if p["path"] else prefix, "message": p["message"]}
                for p in exc.details()
            ]
            continue
        if experience.id in seen:
            problems.append({"path": f"{prefix}.id", "message": f"duplicate: {experience.id} appears twice"})
        seen.add(experience.id)
        parsed.append(experience)
    if problems:
        count = len(problems)
        raise Unprocessable(
            f"The import is not valid ({count} problem{'s' if count != 1 else ''}); nothing was imported.",
            code="validation_failed",
            details=problems,
        )
    return parsed


async def _prepare(
    request: Request,
    site: SiteRecord,
    index: int,
    experience: Experience,
    current: ExperienceRecord | None,
    keep_status: bool,
) -> tuple[Experience, list[ApiWarning]]:
    """The experience as it will be written, after the lifecycle and segment checks a `POST` (new)
    or `PUT` (replacing `current`) would make; any refusal names the experience and its index."""
    try:
        before: Experience | None = None
        warnings: list[ApiWarning] = []
        if current is None:
            lifecycle.check_initial(experience.status)
        else:
            status_before = ExperienceStatus(current.status)
            if not keep_status:
                experience = msgspec.structs.replace(experience, status=status_before)
            lifecycle.check_change(
                experience.id, status_before, experience.status, ExperienceType(current.type), experience.type
            )
            try:
                before = parse_experience(current.body)
            except ValidationError:  # a stored document from an older version: nothing to compare
                before = None
            if before is not None:
                warnings += running_test_warnings(before, experience, status_before)
        return experience, warnings + await check_segments(request, site.id, experience, before)
    except ApiError as exc:
        exc.message = f"experiences[{index}] ({experience.id}): {exc.message} Nothing was imported."
        if isinstance(exc.details, list):
            exc.details = [
                {**p, "path": f"experiences[{index}].{p['path']}"}
                if isinstance(p, dict) and "path" in p
                else p
                for p in exc.details
            ]
        raise


async def _write(
    svc: Services, site: SiteRecord, experience: Experience, current: ExperienceRecord | None
) -> None:
    body = experience.to_dict()
    body.pop("version", None)
    kind, status = experience.type.value, experience.status.value
    try:
        if current is None:
            await svc.store.create_experience(
                site.id, experience.id, type=kind, status=status, body=body, now=svc.now()
            )
        else:
            await svc.store.replace_experience(
                site.id, experience.id, expected_version=current.version, type=kind, status=status, body=body,
                now=svc.now(),
            )  # fmt: skip
    except (AlreadyExists, VersionConflict, NotFoundInStore):
        raise Conflict(
            f"Experience {experience.id} changed while it was being imported; the experiences before it "
            "were imported. Export again and repeat the import.",
            code="concurrent_change",
            details={"experience_id": experience.id},
        ) from None


routes: list[BaseRoute] = [
    Route(EXPORT_PATH, export_experiences, methods=["GET"]),
    Route(IMPORT_PATH, import_experiences, methods=["POST"]),
]
