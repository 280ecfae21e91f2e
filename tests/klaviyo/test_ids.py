"""Profile ids packed to 16 bytes (ULIDs) or kept as text: a round trip for every shape."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from klaviyo.ids import pack_profile_id, ulid_bytes, ulid_text, unpack_profile_id

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@pytest.mark.parametrize(
    ("profile_id", "packed_hex"),
    [
        ("00000000000000000000000000", "00" * 16),
        ("7ZZZZZZZZZZZZZZZZZZZZZZZZZ", "ff" * 16),
        ("01ARZ3NDEKTSV4RRFFQ69G5FAV", "01563e3ab5d3d6764c61efb99302bd5b"),
    ],
)
def test_golden_ulids(profile_id: str, packed_hex: str) -> None:
    packed = ulid_bytes(profile_id)
    assert packed is not None and packed.hex() == packed_hex
    assert ulid_text(packed) == profile_id


def test_the_timestamp_is_the_first_48_bits() -> None:
    # The ULID spec's example: decodeTime("01ARYZ6S41TSV4RRFFQ69G5FAV") == 1469918176385.
    packed = ulid_bytes("01ARYZ6S41TSV4RRFFQ69G5FAV")
    assert packed is not None and int.from_bytes(packed[:6], "big") == 1469918176385


@pytest.mark.parametrize(
    "other",
    [
        "",
        "01arz3ndektsv4rrffq69g5fav",
        "8ZZZZZZZZZZZZZZZZZZZZZZZZZ",
        "01ARZ3NDEKTSV4RRFFQ69G5FA",
        "01ARZ3NDEKTSV4RRFFQ69G5FAI",
    ],
)
def test_anything_else_is_not_packed_as_a_ulid(other: str) -> None:
    assert ulid_bytes(other) is None
    assert unpack_profile_id(pack_profile_id(other)) == other


@given(
    st.text(alphabet=CROCKFORD[:8], min_size=1, max_size=1),
    st.text(alphabet=CROCKFORD, min_size=25, max_size=25),
)
def test_every_ulid_round_trips(head: str, tail: str) -> None:
    profile_id = head + tail
    packed = pack_profile_id(profile_id)
    assert len(packed) == 17
    assert unpack_profile_id(packed) == profile_id


@given(st.text(max_size=40))
def test_every_id_round_trips(profile_id: str) -> None:
    assert unpack_profile_id(pack_profile_id(profile_id)) == profile_id
