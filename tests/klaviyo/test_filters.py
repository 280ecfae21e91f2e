"""The filter builder: no value can change the meaning of `equals(_kx,"...")`."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from klaviyo.filters import equals


def parse_filter(text: str) -> list[tuple[str, str, str]]:
    """A tiny parser for Klaviyo filter expressions: `op(field,"value")` joined by commas at the
    top level (Klaviyo's implicit AND). Returns (operator, field, value) per expression."""
    found: list[tuple[str, str, str]] = []
    i = 0
    while i < len(text):
        open_paren = text.index("(", i)
        operator = text[i:open_paren]
        comma = text.index(",", open_paren)
        field = text[open_paren + 1 : comma]
        if text[comma + 1] != '"':
            raise ValueError("value is not quoted")
        j = comma + 2
        value: list[str] = []
        while text[j] != '"':
            if text[j] == "\\":
                j += 1
            value.append(text[j])
            j += 1
        if text[j + 1] != ")":
            raise ValueError("expression does not end after its value")
        found.append((operator, field, "".join(value)))
        i = j + 2
        if i < len(text):
            if text[i] != ",":
                raise ValueError("junk between expressions")
            i += 1
    return found


HOSTILE = st.text(
    alphabet=st.one_of(
        st.sampled_from(['"', "\\", ",", "(", ")", "'", " ", "%", "&", "=", "\n", "\x00"]),
        st.characters(),
    )
)


@given(HOSTILE)
def test_any_value_parses_back_to_one_equals_on_kx(value: str) -> None:
    assert parse_filter(equals("_kx", value)) == [("equals", "_kx", value)]


@pytest.mark.parametrize(
    "value",
    ['x"),equals(email,"a@b.c', 'x\\"),any(_kx,["a', "\\", '"', "ABCDEFGHIJKLMNOP==.UHFmv9"],
)
def test_injection_attempts_stay_one_value(value: str) -> None:
    assert parse_filter(equals("_kx", value)) == [("equals", "_kx", value)]


def test_the_parser_would_see_an_injection() -> None:
    pasted = 'equals(_kx,"x"),equals(email,"a@b.c")'
    assert len(parse_filter(pasted)) == 2


@pytest.mark.parametrize("field", ["_kx)", "email,x", "", 'a"'])
def test_field_names_are_checked(field: str) -> None:
    with pytest.raises(ValueError, match="field"):
        equals(field, "x")
