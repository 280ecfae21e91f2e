from __future__ import annotations

import pytest

from edge.resolver import parse_kx


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ABCDEFGHIJKLMNOP%3D%3D.UHFmv9", "ABCDEFGHIJKLMNOP==.UHFmv9"),
        ("ABCDEFGHIJKLMNOP==.UHFmv9", "ABCDEFGHIJKLMNOP==.UHFmv9"),
        ("ab+/cd_-EFGH==.x", "ab+/cd_-EFGH==.x"),  # + stays +: base64, not a space
        ("A" * 300, "A" * 300),
        (None, None),
        ("", None),
        ("short", None),
        ("A" * 301, None),
        ("ABCDEFGH%252F", None),  # decoded once only: %2F stays literal and % is refused
        ("ABCDEFGHIJ%22),equals(email", None),
        ("ABCDEFGHIJ%5C%5C", None),
        ("ABCDEFGHIJ KLMN", None),
        ("ABCDEFGHIJ\n", None),
        ("ABCDEFGHIJ%0A", None),
        ("ABCDEFGHIJ%FF%FE", None),  # not UTF-8
        ("ÀBCDEFGHIJ", None),
        ("A" * 10_000, None),
    ],
)
def test_parse_kx(raw: str | None, expected: str | None) -> None:
    assert parse_kx(raw) == expected
