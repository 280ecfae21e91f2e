"""Reading requests safely: bounded bodies, JSON into typed structs, bearer credentials."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from edge.web.errors import BadRequest, PayloadTooLarge, Unprocessable

T = TypeVar("T")
_encode = msgspec.json.Encoder().encode


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) anything over `limit` bytes before reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadRequest("Content-Length is not a number.", code="bad_content_length")
        if int(declared) > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def decode_json(body: bytes, into: type[T]) -> T:
    """Decode JSON into `into`: 400 when it is not JSON, 422 naming the field when it does not fit."""
    if not body.strip():
        raise BadRequest("The request body must be a JSON object.", code="empty_body")
    try:
        return msgspec.json.decode(body, type=into)
    except msgspec.ValidationError as exc:
        raise Unprocessable(str(exc), details=[{"path": _path_of(exc), "message": str(exc)}]) from None
    except msgspec.DecodeError as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}", code="malformed_json") from None


def _path_of(exc: msgspec.ValidationError) -> str:
    # msgspec appends " - at `$.field`" to its messages.
    message = str(exc)
    marker = "at `$"
    if marker in message:
        return message.split(marker, 1)[1].rstrip("`").lstrip(".")
    return ""


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def json_response(content: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_encode(content), status_code=status_code, media_type="application/json",
                    headers=headers)  # fmt: skip
