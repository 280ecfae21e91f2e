"""What a variation does on the page: `changes`, as an immutable value, and its validation.

    {"css": "<stylesheet>",
     "dom": [{"selector", "action", "value"?, "attribute"?}, ...],
     "redirect": "<absolute URL or /path>",
     "pages": ["/path", "/products/*", ...],
     "payload": <any JSON value>}

Every field is optional; `{}` is no change. `dom` actions, in order: `set_text`, `set_html`,
`set_attribute` (needs `attribute`), `add_class`, `remove_class` (space-separated class names),
`hide` (no `value`), `insert_before`, `insert_after` (HTML placed next to the element).
`pages` limits css, dom and redirect to pages whose path matches one pattern (`*` matches any
run of characters; no pattern: every page); a `redirect` needs `pages` (the pages visitors are
sent from), or every page of the shop would leave, and a same-shop target must not match them.
`payload` is handed to the storefront's code as is.

Sizes are bounded, content is checked (`change_content.py`: selectors, CSS, HTML, attributes,
URLs) and HTML is stored cleaned, so what the storefront receives can never run script.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Final
from urllib.parse import urlsplit

import msgspec

from targeting.change_content import (
    attribute_problem,
    clean_html,
    css_problem,
    css_rule_selectors,
    html_problem,
    selector_problem,
)
from targeting.errors import Problem

MAX_CSS: Final = 20_000
MAX_DOM: Final = 50
MAX_SELECTOR: Final = 500
MAX_TEXT: Final = 5_000
MAX_HTML: Final = 20_000
MAX_ATTRIBUTE_VALUE: Final = 2_000
MAX_URL: Final = 2_048
MAX_PAGES: Final = 20
MAX_PAGE: Final = 500
MAX_CLASSES: Final = 20
MAX_PAYLOAD_BYTES: Final = 16_384
MAX_CHANGES_BYTES: Final = 65_536
_FIELDS: Final = ("css", "dom", "redirect", "pages", "payload")
_DOM_FIELDS: Final = ("selector", "action", "value", "attribute")
_CLASS: Final = re.compile(r"[^\s\"'<>]{1,100}")
_PAGE: Final = re.compile(r"/[^\s?#]*")
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


class DomAction(StrEnum):
    SET_TEXT = "set_text"
    SET_HTML = "set_html"
    SET_ATTRIBUTE = "set_attribute"
    ADD_CLASS = "add_class"
    REMOVE_CLASS = "remove_class"
    HIDE = "hide"
    INSERT_BEFORE = "insert_before"
    INSERT_AFTER = "insert_after"


HTML_ACTIONS: Final = frozenset({DomAction.SET_HTML, DomAction.INSERT_BEFORE, DomAction.INSERT_AFTER})
CLASS_ACTIONS: Final = frozenset({DomAction.ADD_CLASS, DomAction.REMOVE_CLASS})


class DomChange(msgspec.Struct, frozen=True):
    selector: str
    action: DomAction
    value: str | None = None
    attribute: str | None = None

    def to_dict(self) -> dict[str, str]:
        data = {"selector": self.selector, "action": str(self.action)}
        if self.value is not None:
            data["value"] = self.value
        if self.attribute is not None:
            data["attribute"] = self.attribute
        return data


class VariationChanges(msgspec.Struct, frozen=True, cache_hash=True, omit_defaults=True):
    """A variation's changes. `payload_json` is the payload's JSON text (None: no payload), so
    the value stays hashable: decisions carry it and the edge keys its encoded answers on them."""

    css: str | None = None
    dom: tuple[DomChange, ...] = ()
    redirect: str | None = None
    pages: tuple[str, ...] = ()
    payload_json: str | None = None

    @property
    def payload(self) -> Any:
        return None if self.payload_json is None else _decode(self.payload_json)

    @property
    def touched_selectors(self) -> tuple[str, ...]:
        """The elements this variation changes as the page paints: its DOM changes' selectors
        and its stylesheet's style rules (see `css_rule_selectors`)."""
        found = [change.selector for change in self.dom]
        if self.css:
            # Only selectors the snippet may write into its hiding rules as they are.
            found += [s for s in css_rule_selectors(self.css) if selector_problem(s) is None]
        return tuple(dict.fromkeys(found))

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON form (fields left out when empty)."""
        data: dict[str, Any] = {}
        if self.css is not None:
            data["css"] = self.css
        if self.dom:
            data["dom"] = [change.to_dict() for change in self.dom]
        if self.redirect is not None:
            data["redirect"] = self.redirect
        if self.pages:
            data["pages"] = list(self.pages)
        if self.payload_json is not None:
            data["payload"] = self.payload
        return data


def page_matches(pattern: str, path: str) -> bool:
    """Whether a `pages` pattern matches a URL path (`*`: any run of characters; a trailing
    slash is not significant). The snippet applies the same rule in the browser."""
    expression = ".*".join(re.escape(part) for part in pattern.rstrip("/").split("*"))
    return re.fullmatch(expression + "/?", path) is not None


class ChangesParser:
    """Validates `changes` documents, appending to a shared problem list (like `RuleParser`)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def parse(self, data: object, path: str) -> VariationChanges | None:
        """The changes, None for `null` or `{}`; problems are appended (then the result is None)."""
        if data is None:
            return None
        if not isinstance(data, Mapping):
            self.problem(path, "must be an object with css, dom, redirect, pages and payload")
            return None
        before = len(self.problems)
        for key in data:
            if key not in _FIELDS:
                self.problem(f"{path}.{key}", "unknown field")
        css = self.css(data["css"], f"{path}.css") if data.get("css") is not None else None
        dom = self.dom(data["dom"], f"{path}.dom") if data.get("dom") is not None else ()
        pages = self.pages(data["pages"], f"{path}.pages") if data.get("pages") is not None else ()
        redirect = None
        if data.get("redirect") is not None:
            redirect = self.redirect(data["redirect"], pages, f"{path}.redirect", "pages" in data)
        payload = self.payload(data["payload"], f"{path}.payload") if "payload" in data else None
        if len(self.problems) != before:
            return None
        changes = VariationChanges(css, dom or (), redirect, pages or (), payload)
        if changes == VariationChanges():
            return None
        if len(_encode(changes.to_dict())) > MAX_CHANGES_BYTES:
            self.problem(path, f"must be at most {MAX_CHANGES_BYTES} bytes as JSON")
            return None
        return changes

    def css(self, value: object, path: str) -> str | None:
        if not isinstance(value, str) or len(value) > MAX_CSS:
            self.problem(path, f"must be a stylesheet of at most {MAX_CSS} characters")
            return None
        problem = css_problem(value)
        if problem is not None:
            self.problem(path, problem)
            return None
        return value

    def dom(self, value: object, path: str) -> tuple[DomChange, ...] | None:
        if not isinstance(value, list) or len(value) > MAX_DOM:
            self.problem(path, f"must be a list of at most {MAX_DOM} changes")
            return None
        parsed = [self.dom_change(item, f"{path}[{i}]") for i, item in enumerate(value)]
        if not all(parsed):
            return None
        return tuple(change for change in parsed if change is not None)

    def dom_change(self, data: object, path: str) -> DomChange | None:
        if not isinstance(data, Mapping):
            self.problem(path, "must be an object with selector, action and value")
            return None
        before = len(self.problems)
        for key in data:
            if key not in _DOM_FIELDS:
                self.problem(f"{path}.{key}", "unknown field")
        selector = data.get("selector")
        if not isinstance(selector, str) or not selector.strip() or len(selector) > MAX_SELECTOR:
            self.problem(f"{path}.selector", f"must be a CSS selector of 1-{MAX_SELECTOR} characters")
        else:
            problem = selector_problem(selector)
            if problem is not None:
                self.problem(f"{path}.selector", problem)
        try:
            action = DomAction(str(data.get("action")))
        except ValueError:
            self.problem(f"{path}.action", "must be one of " + ", ".join(str(a) for a in DomAction))
            return None
        attribute = data.get("attribute")
        if action is DomAction.SET_ATTRIBUTE:
            if not isinstance(attribute, str):
                self.problem(f"{path}.attribute", "required for set_attribute (the attribute's name)")
        elif attribute is not None:
            self.problem(f"{path}.attribute", "only allowed with set_attribute")
        value = self.dom_value(data.get("value"), action, attribute, f"{path}.value")
        if len(self.problems) != before:
            return None
        assert isinstance(selector, str)
        return DomChange(selector, action, value, attribute if isinstance(attribute, str) else None)

    def dom_value(self, value: object, action: DomAction, attribute: object, path: str) -> str | None:
        if action is DomAction.HIDE:
            if value is not None:
                self.problem(path, "hide takes no value")
            return None
        if not isinstance(value, str):
            self.problem(path, f"required for {action} (a string)")
            return None
        if action is DomAction.SET_TEXT:
            limit, problem = MAX_TEXT, None
        elif action in HTML_ACTIONS:
            limit, problem = MAX_HTML, html_problem(value)
        elif action in CLASS_ACTIONS:
            names = value.split()
            limit = MAX_ATTRIBUTE_VALUE
            problem = None
            if not names or len(names) > MAX_CLASSES or not all(_CLASS.fullmatch(n) for n in names):
                problem = f"must be 1-{MAX_CLASSES} class names separated by spaces"
        else:
            limit = MAX_ATTRIBUTE_VALUE
            problem = attribute_problem(attribute, value) if isinstance(attribute, str) else None
        if len(value) > limit:
            self.problem(path, f"must be at most {limit} characters")
            return None
        if problem is not None:
            self.problem(path, problem)
            return None
        return clean_html(value) if action in HTML_ACTIONS else value

    def pages(self, value: object, path: str) -> tuple[str, ...] | None:
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_PAGES:
            self.problem(path, f"must be a list of 1 to {MAX_PAGES} path patterns")
            return None
        for i, pattern in enumerate(value):
            if not (isinstance(pattern, str) and len(pattern) <= MAX_PAGE and _PAGE.fullmatch(pattern)):
                self.problem(
                    f"{path}[{i}]",
                    "must be a path on the shop starting with / (no query or #; * matches anything)",
                )
        if any(not isinstance(p, str) for p in value):
            return None
        return tuple(value)

    def redirect(
        self, value: object, pages: tuple[str, ...] | None, path: str, has_pages: bool
    ) -> str | None:
        if not isinstance(value, str) or not value or len(value) > MAX_URL:
            self.problem(path, f"must be a URL of at most {MAX_URL} characters")
            return None
        parts = urlsplit(value)
        if re.search(r"[\s\\]", value) or not (
            (parts.scheme in ("http", "https") and parts.hostname and "@" not in parts.netloc)
            or (
                not parts.scheme and not parts.netloc and value.startswith("/") and not value.startswith("//")
            )
        ):
            self.problem(path, "must be an absolute http(s) URL or a path on the shop starting with /")
            return None
        if not has_pages:
            self.problem(path, "needs pages: the pages visitors are sent from (else every page redirects)")
            return None
        if pages and not parts.scheme and any(page_matches(p, parts.path) for p in pages):
            self.problem(path, "the target matches pages: visitors would be redirected in a loop")
            return None
        return value

    def payload(self, value: object, path: str) -> str | None:
        try:
            encoded = _encode(value)
        except (TypeError, OverflowError, ValueError):
            self.problem(path, "must be a JSON value")
            return None
        if len(encoded) > MAX_PAYLOAD_BYTES:
            self.problem(path, f"must be at most {MAX_PAYLOAD_BYTES} bytes as JSON")
            return None
        return None if value is None else encoded.decode()
