"""Request ids name the worker process that answered and differ from request to request."""

from __future__ import annotations

import pytest

from edge.web.request_ids import RequestIds, incoming, worker_of


def test_a_request_id_names_its_worker_and_is_never_repeated() -> None:
    ids = RequestIds()
    made = [ids.new() for _ in range(10_000)]
    assert len(set(made)) == len(made)
    assert {worker_of(i) for i in made} == {ids.worker}
    assert all(len(i) == 25 for i in made)


def test_each_app_instance_gets_its_own_worker_id() -> None:
    assert RequestIds().worker != RequestIds().worker


def test_an_id_the_client_chose_names_no_worker() -> None:
    assert worker_of("abc12345-given") == ""
    assert worker_of("nohyphen") == ""


@pytest.mark.parametrize("value", [b"abc12345-given", b"0f1e2d3c-4b5a-6978", b"trace:span.1_x", b"a" * 64])
def test_an_incoming_id_of_a_plain_charset_and_bounded_length_is_kept(value: bytes) -> None:
    assert incoming(value) == value.decode()


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"short",
        b"a" * 65,
        b"bad id with spaces",
        b"nul\x00nul\x00",
        "caf\u00e9-1234".encode(),
        b"a\r\nb: c",
    ],
)
def test_an_incoming_id_that_is_too_long_short_or_odd_is_replaced(value: bytes) -> None:
    assert incoming(value) is None
