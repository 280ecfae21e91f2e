"""A variation's `changes` as msgspec types, for the OpenAPI document and the answers built from it.

Validation stays `targeting.changes`'s (it names every problem's path, checks selectors, CSS,
HTML, attributes and URLs, and cleans HTML); these types mirror its shapes and size limits so
the published schema is the contract. Fields left out stay left out in answers (`UNSET`).
The storefront's assign answer carries the same object on each decided experience.
"""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import UNSET, Meta, Struct, UnsetType

from targeting.changes import (
    MAX_CSS,
    MAX_DOM,
    MAX_HTML,
    MAX_PAGE,
    MAX_PAGES,
    MAX_SELECTOR,
    MAX_URL,
    DomAction,
)

Selector = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=MAX_SELECTOR,
        description="A CSS selector querySelectorAll accepts (no pseudo-elements, standard pseudo-classes).",
    ),
]
PagePattern = Annotated[
    str,
    Meta(
        pattern=r"^/[^\s?#]*$",
        max_length=MAX_PAGE,
        description="A path on the shop; * matches any run of characters; a trailing slash is not significant.",
    ),
]


class DomChange(Struct, forbid_unknown_fields=True, kw_only=True):
    """One change to the elements `selector` matches, now and when they appear later.

    `value`: the text (`set_text`, at most 5000 characters), the HTML (`set_html`,
    `insert_before`, `insert_after`: at most 20000; cleaned, and refused when it carries script,
    event handlers or `javascript:` URLs), the attribute's value (`set_attribute`, with
    `attribute`; no `on*` handlers, no `srcdoc`, safe URL schemes only) or space-separated class
    names (`add_class`, `remove_class`). `hide` takes no value."""

    selector: Selector
    action: DomAction
    value: Annotated[str, Meta(max_length=MAX_HTML)] | UnsetType | None = UNSET
    attribute: Annotated[str, Meta(pattern=r"^[A-Za-z_:][-A-Za-z0-9_:.]{0,63}$")] | UnsetType | None = UNSET


class Changes(Struct, forbid_unknown_fields=True, kw_only=True):
    """What a variation does on the page; every field is optional and `{}` is no change.

    `css` is inserted while the variation applies (no @import, no expression(), url() to https,
    http, relative or data:image/ only). `dom` applies in order. `redirect` sends the visitor to an
    absolute http(s) URL or a /path on the shop, keeping the query string, before the page paints;
    it needs `pages` (the pages visitors are sent from) and a same-shop target must not match
    them. `pages` (1 to 20 patterns) limits css, dom and redirect to matching paths (default: every
    page).
    `payload` is any JSON value (at most 16384 bytes), handed to the storefront as
    `kxEdge.get(id).payload`. A variation's changes are at most 65536 bytes as JSON."""

    css: Annotated[str, Meta(max_length=MAX_CSS)] | UnsetType | None = UNSET
    dom: Annotated[list[DomChange], Meta(max_length=MAX_DOM)] | UnsetType | None = UNSET
    redirect: Annotated[str, Meta(min_length=1, max_length=MAX_URL)] | UnsetType | None = UNSET
    pages: Annotated[list[PagePattern], Meta(max_length=MAX_PAGES)] | UnsetType | None = UNSET
    payload: Any | UnsetType = UNSET


CHANGE_TYPES: tuple[type[Any], ...] = (Changes, DomChange)
