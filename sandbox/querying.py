"""What each collection accepts in `filter`, `page[size]`, `page[cursor]` and `fields[...]`."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeVar

from starlette.datastructures import QueryParams

from sandbox.filters import Condition, FilterError, Scalar, parse_filter
from sandbox.jsonapi import invalid

T = TypeVar("T")


class Kind(StrEnum):
    STRING = "string"
    BOOLEAN = "boolean"
    DATETIME = "date-time"


_COMPARISONS: Mapping[str, Callable[[float, float], bool]] = MappingProxyType(
    {
        "greater-than": lambda a, b: a > b,
        "greater-or-equal": lambda a, b: a >= b,
        "less-than": lambda a, b: a < b,
        "less-or-equal": lambda a, b: a <= b,
    }
)
_ALL_COMPARISONS = frozenset(_COMPARISONS)


@dataclass(frozen=True, slots=True)
class FieldSpec:
    kind: Kind
    operators: frozenset[str]


def _spec(kind: Kind, *operators: str) -> FieldSpec:
    return FieldSpec(kind, frozenset(operators))


_EQ_ANY = ("equals", "any")
PROFILE_FILTERS: Mapping[str, FieldSpec] = MappingProxyType(
    {
        "id": _spec(Kind.STRING, *_EQ_ANY),
        "email": _spec(Kind.STRING, *_EQ_ANY),
        "phone_number": _spec(Kind.STRING, *_EQ_ANY),
        "external_id": _spec(Kind.STRING, *_EQ_ANY),
        "_kx": _spec(Kind.STRING, "equals"),
        "created": _spec(Kind.DATETIME, "greater-than", "less-than"),
        "updated": _spec(Kind.DATETIME, "greater-than", "less-than"),
    }
)
SEGMENT_FILTERS: Mapping[str, FieldSpec] = MappingProxyType(
    {
        "name": _spec(Kind.STRING, *_EQ_ANY),
        "id": _spec(Kind.STRING, *_EQ_ANY),
        "created": _spec(Kind.DATETIME, "greater-than"),
        "updated": _spec(Kind.DATETIME, "greater-than"),
        "is_active": _spec(Kind.BOOLEAN, *_EQ_ANY),
        "is_starred": _spec(Kind.BOOLEAN, "equals"),
    }
)
MEMBER_FILTERS: Mapping[str, FieldSpec] = MappingProxyType(
    {
        "profile_id": _spec(Kind.STRING, *_EQ_ANY),
        "email": _spec(Kind.STRING, *_EQ_ANY),
        "phone_number": _spec(Kind.STRING, *_EQ_ANY),
        "push_token": _spec(Kind.STRING, *_EQ_ANY),
        "_kx": _spec(Kind.STRING, "equals"),
        "joined_group_at": FieldSpec(Kind.DATETIME, _ALL_COMPARISONS),
    }
)


def _is(kind: Kind, value: Scalar) -> bool:
    if kind is Kind.STRING:
        return isinstance(value, str)
    if kind is Kind.BOOLEAN:
        return isinstance(value, bool)
    return isinstance(value, datetime)


def parse_conditions(params: QueryParams, specs: Mapping[str, FieldSpec]) -> list[Condition]:
    """The request's filter, checked against what the endpoint allows; a 400 otherwise."""
    text = params.get("filter")
    if text is None:
        return []
    try:
        conditions = parse_filter(text)
        for c in conditions:
            spec = specs.get(c.field)
            if spec is None:
                raise FilterError(f"'{c.field}' is not a valid field for this filter")
            if c.operator not in spec.operators:
                raise FilterError(f"'{c.operator}' is not a valid operator for '{c.field}'")
            values = c.value if isinstance(c.value, tuple) else (c.value,)
            if (c.operator == "any") != isinstance(c.value, tuple) or not values:
                raise FilterError(f"'{c.operator}' needs {'a list' if c.operator == 'any' else 'one value'}")
            if not all(_is(spec.kind, v) for v in values):
                raise FilterError(f"'{c.field}' takes {spec.kind} values")
    except FilterError as error:
        raise invalid(str(error), parameter="filter") from None
    return conditions


def matches(conditions: Iterable[Condition], value_of: Callable[[str], Any]) -> bool:
    """Whether a record passes every condition; `value_of(field)` reads the record (dates as
    epoch seconds)."""
    for c in conditions:
        actual = value_of(c.field)
        if c.operator == "equals" and actual != c.value:
            return False
        if c.operator == "any" and (actual is None or actual not in c.value):  # type: ignore[operator]
            return False
        compare = _COMPARISONS.get(c.operator)
        if compare is not None:
            assert isinstance(c.value, datetime)
            if actual is None or not compare(actual, c.value.timestamp()):
                return False
    return True


def equality(conditions: Iterable[Condition], field: str) -> tuple[str, ...] | None:
    """The values an `equals`/`any` on `field` allows (for index lookups), or None if unfiltered."""
    for c in conditions:
        if c.field == field and c.operator in _EQ_ANY:
            values = c.value if isinstance(c.value, tuple) else (c.value,)
            return tuple(v for v in values if isinstance(v, str))
    return None


def page_size(params: QueryParams, *, default: int, maximum: int) -> int:
    raw = params.get("page[size]")
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        detail = f"page[size] must be an integer between 1 and {maximum}"
        raise invalid(detail, parameter="page[size]")
    return int(raw)


def encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).rstrip(b"=").decode("ascii")


def decode_cursor(params: QueryParams) -> str | None:
    """The key after which the page starts. A leading `=` is dropped: the official SDK sends one
    when handed a `links.next` URL (it splits the URL on `page[cursor]`, keeping the `=`)."""
    raw = params.get("page[cursor]")
    if raw is None or raw == "":
        return None
    text = raw.lstrip("=")
    try:
        padded = text + "=" * (-len(text) % 4)
        return base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise invalid("Invalid page cursor", parameter="page[cursor]") from None


def sparse_fields(params: QueryParams, resource: str, allowed: Iterable[str]) -> frozenset[str] | None:
    """The attributes `fields[resource]` asks for (None: all). `id` is accepted and selects no
    attribute; an unknown name is a 400."""
    raw = params.get(f"fields[{resource}]")
    if raw is None:
        return None
    names = frozenset(n.strip() for n in raw.split(",") if n.strip())
    unknown = names - frozenset(allowed) - {"id"}
    if unknown or not names:
        detail = f"Invalid field(s) for resource '{resource}': {', '.join(sorted(unknown))}"
        raise invalid(detail, parameter=f"fields[{resource}]")
    return names


def take_page(
    ordered: Sequence[T], start: int, *, size: int, accept: Callable[[T], bool], step: int = 1
) -> tuple[list[T], bool]:
    """Up to `size` accepted items walking `ordered` from `start` by `step` (+1 or -1), and
    whether more accepted items follow (so the page needs a `links.next`)."""
    page: list[T] = []
    index = start
    while 0 <= index < len(ordered):
        item = ordered[index]
        index += step
        if accept(item):
            if len(page) == size:
                return page, True
            page.append(item)
    return page, False
