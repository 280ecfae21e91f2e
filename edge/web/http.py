"""Reading requests safely: bounded bodies, JSON into typed structs, bearer credentials."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import msgspec
from starlette.requests import ClientDisconnect, Request
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
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
            chunks.append(chunk)
    except ClientDisconnect:
        # The client left, or the server's parser gave up on the body (a bad chunk): whoever
        # still listens gets the 400 the storefront gives for the same.
        raise BadRequest("The client went away before the body ended.", code="client_disconnected") from None
    return b"".join(chunks)


class JsonDecoder(Generic[T]):
    """Untrusted JSON into `T`, every way it can fail mapped to a 4xx (`ApiError`).

    The one decoding path for request bodies (the storefront's and, through `decode_json`, the
    configuration API's), so every failure msgspec can raise is handled for every route at once:
    no body or not JSON (400 `empty_body`, `malformed_json`), nested deeper than the decoder
    can follow (its `RecursionError`: 400 `json_too_deep`), JSON that does not fit `T` (422
    naming the field). A decoder is immutable: build one per type and share it.
    """

    __slots__ = ("_decode",)

    def __init__(self, into: type[T]) -> None:
        self._decode: Callable[[bytes], T] = msgspec.json.Decoder(into).decode

    def __call__(self, body: bytes) -> T:
        return _decoded(self._decode, body)


def decode_json(body: bytes, into: type[T]) -> T:
    """`JsonDecoder(into)(body)`, for routes that are not hot enough to keep a decoder."""
    return _decoded(lambda raw: msgspec.json.decode(raw, type=into), body)


def _decoded(decode: Callable[[bytes], T], body: bytes) -> T:
    if not body.strip():
        raise BadRequest("The request body must be a JSON object.", code="empty_body")
    try:
        return decode(body)
    except msgspec.ValidationError as exc:
        raise Unprocessable(str(exc), details=[{"path": _path_of(exc), "message": str(exc)}]) from None
    except msgspec.DecodeError as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}", code="malformed_json") from None
    except RecursionError:
        raise BadRequest("The request body nests too deeply.", code="json_too_deep") from None


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
