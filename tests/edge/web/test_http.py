"""Decoding untrusted request bodies: every failure is a 4xx, on every route that reads JSON."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import msgspec
import pytest
from starlette.requests import Request
from starlette.types import Message

from edge.app import create_app
from edge.web.errors import ApiError
from edge.web.http import JsonDecoder, decode_json, read_body
from tests.apps import app_client, create_site, make_settings
from tests.targeting.factories import doc

DEEP_LIST = b"[" * 1000 + b"]" * 1000  # 2 KB
DEEP_OBJECT = b'{"a":' * 1000 + b"1" + b"}" * 1000


class Body(msgspec.Struct):
    name: str
    extra: Any = None


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"", 400, "empty_body"),
        (b"  \n", 400, "empty_body"),
        (b"{", 400, "malformed_json"),
        (b"\xff\xfe{}", 400, "malformed_json"),
        (b'{"name": "a"} trailing', 400, "malformed_json"),
        (b'{"name": 1}', 422, "validation_failed"),
        (b'{"name": "a", "extra": ' + DEEP_LIST + b"}", 400, "json_too_deep"),
        (b'{"name": "a", "extra": ' + DEEP_OBJECT + b"}", 400, "json_too_deep"),
        (b'{"name": "a", "extra": ' + b"9" * 5000 + b"}", 422, "validation_failed"),  # out of range
    ],
)
def test_every_way_a_body_can_fail_is_an_api_error(body: bytes, status: int, code: str) -> None:
    for decode in (JsonDecoder(Body), lambda raw: decode_json(raw, Body)):
        with pytest.raises(ApiError) as caught:
            decode(body)
        assert (caught.value.status, caught.value.code) == (status, code)


def test_a_validation_error_names_the_field() -> None:
    with pytest.raises(ApiError) as caught:
        JsonDecoder(Body)(b'{"name": ["x"]}')
    assert caught.value.details == [{"path": "name", "message": str(caught.value)}]


def test_a_body_that_fits_is_decoded() -> None:
    assert JsonDecoder(Body)(b'{"name": "a", "extra": [[1]]}') == Body("a", [[1]])


@pytest.mark.parametrize("nested", [DEEP_LIST, DEEP_OBJECT])
async def test_the_configuration_api_answers_deep_json_with_a_400_and_logs_no_error(
    tmp_path: Path, nested: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path)
    async with app_client(create_app(settings)) as client:
        site = await create_site(client, settings)
        auth = {"Authorization": f"Bearer {site['api_key']}"}
        base = f"/v1/sites/{site['id']}"
        created = await client.post(f"{base}/experiences", json=doc("x", status="draft"), headers=auth)
        assert created.status_code == 201, created.text
        with caplog.at_level(logging.WARNING):
            answers = [
                await client.post(f"{base}/experiences", content=nested, headers=auth),
                await client.put(f"{base}/experiences/x", content=nested, headers=auth | {"If-Match": '"1"'}),
                await client.post(
                    f"{base}/explain", content=b'{"kx": "a", "x": ' + nested + b"}", headers=auth
                ),
                await client.put(f"{base}/klaviyo/triggers", content=nested, headers=auth),
                await client.patch(base, content=nested, headers=auth),
            ]
    for answer in answers:
        assert answer.status_code in (400, 422), (answer.request.url, answer.text)
        assert answer.json()["error"]["code"] in ("json_too_deep", "validation_failed")
    if nested is DEEP_OBJECT:  # an object where one is due: the nesting itself is what fails
        assert [a.json()["error"]["code"] for a in answers[:2]] == ["json_too_deep", "json_too_deep"]
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_body_cut_off_by_a_disconnect_is_a_400_not_an_unhandled_error() -> None:
    messages: list[Message] = [
        {"type": "http.request", "body": b'{"name": ', "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> Message:
        return messages.pop(0)

    request = Request({"type": "http", "method": "POST", "headers": [], "path": "/"}, receive)
    with pytest.raises(ApiError) as caught:
        await read_body(request, 1024)
    assert (caught.value.status, caught.value.code) == (400, "client_disconnected")
