"""The visitor's Klaviyo exchange id (`_kx`): decoded once, validated before any I/O."""

from __future__ import annotations

import re
from urllib.parse import unquote

KX_MIN_LENGTH = 8
KX_MAX_LENGTH = 300
_KX = re.compile(r"[A-Za-z0-9+/=._-]{%d,%d}" % (KX_MIN_LENGTH, KX_MAX_LENGTH))  # noqa: UP031


def is_valid_kx(kx: str) -> bool:
    """Whether an already decoded `_kx` has the allowed charset and length."""
    return _KX.fullmatch(kx) is not None


def parse_kx(raw: str | None) -> str | None:
    """`_kx` as it arrived (URL-encoded, e.g. `...%3D%3D.UHFmv9`) -> the id, or None if malformed.

    It is URL-decoded exactly once (`+` stays `+`: it is a base64 character here). Anything outside
    `[A-Za-z0-9+/=._-]` or outside 8..300 characters is rejected, so it never reaches Klaviyo.
    """
    if raw is None or len(raw) > 3 * KX_MAX_LENGTH:
        return None
    if "%" not in raw:  # as the snippet sends it: nothing to decode
        return raw if _KX.fullmatch(raw) is not None else None
    try:
        decoded = unquote(raw, errors="strict")
    except UnicodeDecodeError:
        return None
    return decoded if is_valid_kx(decoded) else None
