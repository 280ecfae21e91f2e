"""Golden vectors for the filter parser: what each filter string means, or that it is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sandbox.filters import Condition, FilterError, Value, parse_filter

JAN_1 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('equals(_kx,"ABCDEFGHIJKLMNOP==.UHFmv9")', [("equals", "_kx", "ABCDEFGHIJKLMNOP==.UHFmv9")]),
        ('equals(_kx,"a\\"b")', [("equals", "_kx", 'a"b')]),
        ('equals(_kx,"a\\\\")', [("equals", "_kx", "a\\")]),
        ('equals(email,"caf\\u00e9@x.io")', [("equals", "email", "café@x.io")]),
        ('equals(email,"\\ud83d\\ude00")', [("equals", "email", "\U0001f600")]),
        ("equals(name,'it\\'s')", [("equals", "name", "it's")]),
        ('equals(name,"a,b)")', [("equals", "name", "a,b)")]),
        ('any(name,["VIP","Wholesale"])', [("any", "name", ("VIP", "Wholesale"))]),
        ("any(name,['VIP','Wholesale'])", [("any", "name", ("VIP", "Wholesale"))]),
        ("any(name,[])", [("any", "name", ())]),
        ("equals(is_starred,true)", [("equals", "is_starred", True)]),
        ("equals(is_active,false)", [("equals", "is_active", False)]),
        ("greater-than(joined_group_at,2026-01-01T00:00:00Z)", [("greater-than", "joined_group_at", JAN_1)]),
        ("less-than(updated,2026-01-01T00:00:00+00:00)", [("less-than", "updated", JAN_1)]),
        ("greater-than(created,2026-01-01)", [("greater-than", "created", JAN_1)]),
        ("equals(count,3)", [("equals", "count", 3)]),
        ("equals(x,null)", [("equals", "x", None)]),
        (
            'equals(is_starred,true),equals(name,"VIP")',
            [("equals", "is_starred", True), ("equals", "name", "VIP")],
        ),
        (
            'and(equals(a,"1"),and(equals(b,"2")),equals(c,"3"))',
            [("equals", "a", "1"), ("equals", "b", "2"), ("equals", "c", "3")],
        ),
        (' equals( email , "x" ) ', [("equals", "email", "x")]),
    ],
)
def test_should_parse(text: str, expected: list[tuple[str, str, Value]]) -> None:
    assert parse_filter(text) == [Condition(*c) for c in expected]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "equals",
        "equals(_kx)",
        'equals(_kx,"open',
        "equals(_kx,bare)",
        'equals(_kx,"a")x',
        'equals(_kx,"a"))',
        'equals(_kx,"\\q")',
        'equals(_kx,"\\ud83d")',
        'or(equals(a,"1"),equals(b,"2"))',
        'not(equals(a,"1"))',
        'equals(a,[["nested"]])',
        'Equals(a,"1")',
        'equals(a,"1"),',
        "equals(1a,true)",
    ],
)
def test_should_refuse(text: str) -> None:
    with pytest.raises(FilterError):
        parse_filter(text)
