"""The edge's error tree, mapped onto the JSON error contract in one place.

    ApiError                      {"error": {"code", "message", "details"?}}
    ├── BadRequest        400     malformed JSON, bad query parameters
    ├── Unauthorized      401     missing or wrong credentials
    ├── Forbidden         403     a storefront origin the site does not allow
    ├── NotFound          404     also for another site's resources (ids cannot be probed)
    ├── MethodNotAllowed  405
    ├── Conflict          409     invalid lifecycle transitions, not connected
    ├── PreconditionFailed 412    stale If-Match
    ├── PayloadTooLarge   413
    ├── UnsupportedMedia  415
    ├── Unprocessable     422     well-formed JSON that fails validation (details list every problem)
    ├── PreconditionRequired 428  PUT/DELETE without If-Match
    ├── TooManyRequests   429
    └── ServiceUnavailable 503    a dependency is not configured or not answering

The store's `StoreUnavailable` (its database does not answer) leaves as 503 `store_unavailable`
with `Retry-After: 1`: the storefront keeps serving from memory meanwhile.

Starlette's own HTTPException (unknown route, wrong method) and any unexpected exception are
turned into the same shape by `install_error_handlers`, so a client never sees an HTML page.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from edge.store.errors import StoreUnavailable

logger = logging.getLogger("kx_edge.errors")
_encode = msgspec.json.Encoder().encode


class ApiError(Exception):
    status: ClassVar[int] = 400
    default_code: ClassVar[str] = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details = details
        self.headers = dict(headers or {})


class BadRequest(ApiError):
    status, default_code = 400, "bad_request"


class Unauthorized(ApiError):
    status, default_code = 401, "unauthorized"


class Forbidden(ApiError):
    status, default_code = 403, "forbidden"


class NotFound(ApiError):
    status, default_code = 404, "not_found"


class MethodNotAllowed(ApiError):
    status, default_code = 405, "method_not_allowed"


class Conflict(ApiError):
    status, default_code = 409, "conflict"


class PreconditionFailed(ApiError):
    status, default_code = 412, "version_mismatch"


class PayloadTooLarge(ApiError):
    status, default_code = 413, "payload_too_large"


class UnsupportedMedia(ApiError):
    status, default_code = 415, "unsupported_media_type"


class Unprocessable(ApiError):
    status, default_code = 422, "validation_failed"


class PreconditionRequired(ApiError):
    status, default_code = 428, "if_match_required"


class TooManyRequests(ApiError):
    status, default_code = 429, "too_many_requests"


class ServiceUnavailable(ApiError):
    status, default_code = 503, "service_unavailable"


def error_body(code: str, message: str, details: Any = None) -> bytes:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return _encode({"error": error})


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        error_body(code, message, details),
        status_code=status,
        media_type="application/json",
        headers=dict(headers or {}),
    )


_HTTP_CODES = {
    400: ("bad_request", "The request is malformed."),
    401: ("unauthorized", "Credentials are missing or wrong."),
    404: ("not_found", "Nothing is here."),
    405: ("method_not_allowed", "This method is not allowed here."),
    413: ("payload_too_large", "The request body is too large."),
}


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code, message = _HTTP_CODES.get(exc.status_code, ("http_error", str(exc.detail)))
    return error_response(exc.status_code, code, message, headers=exc.headers)


async def _store_unavailable(request: Request, exc: Exception) -> Response:
    logger.warning("the store does not answer on %s %s: %s", request.method, request.url.path, exc)
    return error_response(
        503,
        "store_unavailable",
        "The configuration store does not answer right now; try again shortly.",
        headers={"Retry-After": "1"},
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "Something went wrong on our side.")


def exception_handlers() -> dict[Any, Any]:
    """The handlers `create_app` installs: every error leaves as the JSON contract."""
    return {
        ApiError: _api_error,
        HTTPException: _http_exception,
        StoreUnavailable: _store_unavailable,
        Exception: _unexpected,
    }
