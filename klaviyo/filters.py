"""Klaviyo filter expressions built so that no value can change their meaning.

A value is quoted and has `\\` and `"` backslash-escaped; the caller's URL encoding (httpx
`params`) then carries the whole expression. The `_kx` validation already excludes both
characters: escaping anyway is defence in depth.
"""

from __future__ import annotations

import re

_FIELD = re.compile(r"[a-z_][a-z0-9_]*")


def quote_value(value: str) -> str:
    """`value` as a double-quoted filter string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def equals(field: str, value: str) -> str:
    """`equals(field,"value")`; `field` must be a plain attribute name."""
    if not _FIELD.fullmatch(field):
        raise ValueError(f"not a filterable field name: {field!r}")
    return f"equals({field},{quote_value(value)})"
