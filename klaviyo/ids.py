"""Klaviyo profile ids in compact form.

Profile ids are ULIDs: 26 Crockford base32 characters holding 128 bits, so one packs into 16
bytes (a Python str of 26 ASCII characters costs 75 bytes). Anything else is kept as its UTF-8
text: nothing here assumes every id is a ULID.
"""

from __future__ import annotations

import re

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_TO_BASE32 = str.maketrans(_CROCKFORD, "0123456789abcdefghijklmnopqrstuv")
_ULID = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}")
ULID_BYTES = 16
_PACKED_ULID = b"\x00"
_PACKED_TEXT = b"\x01"


def ulid_bytes(profile_id: str) -> bytes | None:
    """The 16 bytes of a canonical (upper-case) ULID, or None for any other id."""
    if len(profile_id) != 26 or _ULID.fullmatch(profile_id) is None:
        return None
    return int(profile_id.translate(_TO_BASE32), 32).to_bytes(ULID_BYTES, "big")


def ulid_text(packed: bytes) -> str:
    """The inverse of `ulid_bytes`."""
    value = int.from_bytes(packed, "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def pack_profile_id(profile_id: str) -> bytes:
    """Any profile id as bytes: 17 for a ULID, 1 + its UTF-8 length otherwise."""
    packed = ulid_bytes(profile_id)
    if packed is not None:
        return _PACKED_ULID + packed
    return _PACKED_TEXT + profile_id.encode()


def unpack_profile_id(raw: bytes) -> str:
    """The inverse of `pack_profile_id`."""
    if raw[:1] == _PACKED_ULID:
        return ulid_text(raw[1:])
    return raw[1:].decode()
