"""JSON:API documents and errors as Klaviyo writes them, and links that survive a mount prefix."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

JSONAPI = "application/vnd.api+json"


class ApiError(Exception):
    """A refused `/api/` call: `{"errors": [{"id", "code", "title", "detail", "source"}]}`."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str,
        *,
        parameter: str | None = None,
        pointer: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.parameter = parameter
        self.pointer = pointer
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        source: dict[str, str] = {}
        if self.pointer is not None:
            source["pointer"] = self.pointer
        if self.parameter is not None:
            source["parameter"] = self.parameter
        error: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "code": self.code,
            "title": self.title,
            "detail": self.detail,
            "source": source,
        }
        return {"errors": [error]}

    def response(self) -> Response:
        return document(self.body(), status=self.status, headers=self.headers)


def invalid(detail: str, *, parameter: str | None = None, pointer: str | None = None) -> ApiError:
    return ApiError(400, "invalid", "Invalid input.", detail, parameter=parameter, pointer=pointer)


def not_found(detail: str) -> ApiError:
    return ApiError(404, "not_found", "Not found.", detail)


def not_authenticated(detail: str) -> ApiError:
    title = "Incorrect authentication credentials."
    return ApiError(401, "not_authenticated", title, detail)


def permission_denied(detail: str) -> ApiError:
    title = "You do not have permission to perform this action."
    return ApiError(403, "permission_denied", title, detail)


def throttled(retry_after_s: int) -> ApiError:
    detail = f"Request was throttled. Expected available in {retry_after_s} second(s)."
    headers = {"Retry-After": str(retry_after_s)}
    return ApiError(429, "throttled", "Request was throttled.", detail, headers=headers)


def server_error(status: int) -> ApiError:
    if status == 503:
        return ApiError(503, "service_unavailable", "Service unavailable.", "Try again later.")
    return ApiError(status, "error", "A server error occurred.", "A server error occurred.")


def document(
    body: Mapping[str, Any] | None, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON:API response; `body=None` answers an empty body (the 202 of event creation)."""
    content = b"" if body is None else msgspec.json.encode(body)
    media = None if body is None else JSONAPI
    return Response(content, status_code=status, headers=dict(headers or {}), media_type=media)


def absolute(request: Request, path: str) -> str:
    """An absolute URL for `path` (e.g. `/api/profiles/X/`) under wherever the fake is mounted."""
    root = request.scope.get("root_path", "")
    return str(request.url.replace(path=root + path, query=""))


def self_link(request: Request) -> str:
    return str(request.url)


def with_cursor(request: Request, cursor: str) -> str:
    """This request's URL with `page[cursor]` set: a collection's `links.next`."""
    return str(request.url.include_query_params(**{"page[cursor]": cursor}))
