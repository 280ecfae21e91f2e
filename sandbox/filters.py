"""Klaviyo's `filter` query parameter, parsed properly (never with regexes over the raw text).

    filter    := condition ("," condition)*            top-level commas mean AND
    condition := "and(" filter ")" | operator "(" field "," value ")"
    value     := string | list | true | false | null | number | date-time
    string    := "..." or '...' with backslash escapes (JSON's, plus \\')
    list      := "[" [value ("," value)*] "]"

A date-time is unquoted (`2026-01-01T00:00:00Z`); a quoted one is a string. The official SDK's
`FilterBuilder` writes lists with single quotes, hence both quote styles.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType

Scalar = str | bool | int | float | datetime | None
Value = Scalar | tuple[Scalar, ...]

_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_.$-]*")
_OPERATOR = re.compile(r"[a-z][a-z-]*")
_BARE = re.compile(r"[A-Za-z0-9:+.\-]+")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_ESCAPES: Mapping[str, str] = MappingProxyType(
    {'"': '"', "'": "'", "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
)


class FilterError(ValueError):
    """A malformed filter: answered as a 400 whose source names the `filter` parameter."""


@dataclass(frozen=True, slots=True)
class Condition:
    operator: str
    field: str
    value: Value


def parse_filter(text: str) -> list[Condition]:
    """The conditions of a filter, all of which must hold."""
    parser = _Parser(text)
    conditions = parser.conditions()
    parser.skip_space()
    if parser.pos != len(text):
        raise parser.error("unexpected text")
    return conditions


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, message: str) -> FilterError:
        return FilterError(f"Invalid filter at position {self.pos}: {message}")

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def expect(self, char: str) -> None:
        self.skip_space()
        if not self.text.startswith(char, self.pos):
            raise self.error(f"expected {char!r}")
        self.pos += 1

    def peek(self, char: str) -> bool:
        self.skip_space()
        return self.text.startswith(char, self.pos)

    def match(self, pattern: re.Pattern[str], what: str) -> str:
        self.skip_space()
        found = pattern.match(self.text, self.pos)
        if found is None:
            raise self.error(f"expected {what}")
        self.pos = found.end()
        return found.group()

    def conditions(self) -> list[Condition]:
        found = self.condition()
        while self.peek(","):
            self.pos += 1
            found.extend(self.condition())
        return found

    def condition(self) -> list[Condition]:
        operator = self.match(_OPERATOR, "an operator")
        self.expect("(")
        if operator == "and":
            nested = self.conditions()
            self.expect(")")
            return nested
        if operator in ("or", "not"):
            raise self.error(f"'{operator}' is not supported on this endpoint")
        field = self.match(_NAME, "a field name")
        self.expect(",")
        value = self.value(allow_list=True)
        self.expect(")")
        return [Condition(operator, field, value)]

    def value(self, *, allow_list: bool) -> Value:
        self.skip_space()
        char = self.text[self.pos : self.pos + 1]
        if char in ('"', "'"):
            return self.string(char)
        if char == "[" and allow_list:
            self.pos += 1
            items: list[Scalar] = []
            if not self.peek("]"):
                items.append(self.scalar_or_string())
                while self.peek(","):
                    self.pos += 1
                    items.append(self.scalar_or_string())
            self.expect("]")
            return tuple(items)
        return self.bare()

    def scalar_or_string(self) -> Scalar:
        value = self.value(allow_list=False)
        assert not isinstance(value, tuple)
        return value

    def bare(self) -> Scalar:
        word = self.match(_BARE, "a value")
        if word in ("true", "false"):
            return word == "true"
        if word == "null":
            return None
        if _NUMBER.fullmatch(word):
            return float(word) if "." in word else int(word)
        try:
            parsed = datetime.fromisoformat(word)
        except ValueError:
            raise self.error(f"{word!r} is not a value (strings are quoted)") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    def string(self, quote: str) -> str:
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            self.pos += 1
            if char == quote:
                try:  # JSON writes characters beyond the BMP as surrogate pairs
                    return "".join(out).encode("utf-16", "surrogatepass").decode("utf-16")
                except UnicodeDecodeError:
                    raise self.error("invalid \\u escape in string") from None
            if char != "\\":
                out.append(char)
                continue
            escape = self.text[self.pos : self.pos + 1]
            if escape == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", self.text[self.pos + 1 : self.pos + 5]):
                out.append(chr(int(self.text[self.pos + 1 : self.pos + 5], 16)))
                self.pos += 5
            elif escape in _ESCAPES:
                out.append(_ESCAPES[escape])
                self.pos += 1
            else:
                raise self.error("invalid escape in string")
        raise self.error("unterminated string")
