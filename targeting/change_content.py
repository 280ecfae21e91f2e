"""Checks of what a variation's changes contain: selectors, CSS, HTML, attributes and URLs.

Changes are the merchant's own content on their own shop, but they are data: nothing here is
evaluated, and nothing that can run script gets through. Each check returns a problem message
(or None) so `changes.py` can name the path; `clean_html` returns the markup as stored.

- Selectors are parsed (cssselect) and must be ones `querySelectorAll` accepts: no
  pseudo-elements, only standard pseudo-classes.
- CSS is parsed (tinycss2): no `@import` (it loads another stylesheet) or other unknown
  at-rules, no `expression()`, `behavior` or `-moz-binding`, and `url()` only to https, http,
  relative or `data:image/` addresses.
- HTML is refused when it carries what runs script (`<script>`, `<iframe>`, `on*` handlers,
  `javascript:` URLs, ...), with a message saying which; what passes is then cleaned by an
  allowlist sanitizer (nh3, Ammonia) so anything the check did not foresee is dropped too.
- Attributes: no event handlers, no `srcdoc`, and URL-bearing attributes only with safe schemes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from html.parser import HTMLParser
from typing import Final

import cssselect
import nh3
import tinycss2
from cssselect.parser import tokenize

# Pseudo-classes browsers accept in querySelectorAll (CSS Selectors 4, widely shipped).
PSEUDO_CLASSES: Final = frozenset(
    {
        *("active", "any-link", "autofill", "checked", "default", "defined", "dir", "disabled"),
        *("empty", "enabled", "first-child", "first-of-type", "focus", "focus-visible"),
        *("focus-within", "fullscreen", "has", "hover", "in-range", "indeterminate", "invalid"),
        *("is", "lang", "last-child", "last-of-type", "link", "modal", "not", "nth-child"),
        *("nth-last-child", "nth-last-of-type", "nth-of-type", "only-child", "only-of-type"),
        *("open", "optional", "out-of-range", "placeholder-shown", "popover-open", "read-only"),
        *("read-write", "required", "root", "scope", "target", "user-invalid", "user-valid"),
        *("valid", "visited", "where"),
    }
)
SAFE_SCHEMES: Final = frozenset({"http", "https", "mailto", "tel"})
# Attributes whose value the browser follows as a URL.
URL_ATTRIBUTES: Final = frozenset(
    {
        *("href", "src", "action", "formaction", "xlink:href", "poster", "data", "cite"),
        *("background", "ping", "manifest", "longdesc", "lowsrc", "dynsrc", "codebase", "srcset"),
    }
)
SCRIPT_ATTRIBUTES: Final = frozenset({"srcdoc"})
SCRIPT_TAGS: Final = frozenset(
    {
        *("script", "iframe", "frame", "frameset", "object", "embed", "applet", "base", "link"),
        *("meta", "style", "template", "noscript", "svg", "math", "form", "portal"),
    }
)
CSS_AT_RULES: Final = frozenset(
    {"media", "supports", "container", "layer", "keyframes", "-webkit-keyframes", "font-face"}
)
# At-rules whose block holds rules (the others hold declarations or keyframes).
_NESTING_AT_RULES: Final = frozenset({"media", "supports", "container", "layer"})
_CSS_SCRIPT_PROPERTIES: Final = frozenset({"behavior", "-moz-binding"})
_ATTRIBUTE_NAME: Final = re.compile(r"[A-Za-z_:][-A-Za-z0-9_:.]{0,63}")
_CONTROL: Final = re.compile(r"[\x00-\x20\x7f]+")
_SCHEME: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_DATA_IMAGE: Final = re.compile(r"data:image/(png|gif|jpeg|webp|avif|svg\+xml)[;,]", re.IGNORECASE)

# What set_html and insert_* may keep: Ammonia's defaults plus what storefront copy uses.
HTML_TAGS: Final = frozenset(nh3.ALLOWED_TAGS | {"button", "section", "picture", "source", "s", "tfoot"})
HTML_ATTRIBUTES: Final = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "*": {"class", "id", "title", "lang", "dir", "role", "style", "hidden"},
    "a": {"href", "hreflang", "target"},
    "img": {"alt", "src", "srcset", "sizes", "width", "height", "loading"},
    "source": {"srcset", "sizes", "media", "type"},
    "button": {"type", "disabled"},
}


def url_problem(value: str, *, images: bool = False) -> str | None:
    """Why `value` may not be followed as a URL (None: it may).

    Browsers ignore whitespace and control characters inside a scheme (`java\\tscript:`), so
    they are removed before the scheme is read."""
    compact = _CONTROL.sub("", value)
    scheme = _SCHEME.match(compact)
    if scheme is None or "/" in compact[: scheme.start(1)]:
        return None  # relative: a path, a query or a fragment of the shop
    name = scheme.group(1).lower()
    if name in SAFE_SCHEMES or (images and _DATA_IMAGE.match(compact)):
        return None
    return f"{name}: URLs are not allowed (use https, http, mailto, tel or a relative address)"


def selector_problem(selector: str) -> str | None:
    """Why `selector` is not one `document.querySelectorAll` takes (None: it is)."""
    try:
        parsed = cssselect.parse(selector)
    except cssselect.SelectorError as exc:
        return f"is not a valid CSS selector ({exc})"
    if any(item.pseudo_element is not None for item in parsed):
        return "pseudo-elements (::before, ::after, ...) cannot be changed: select the element itself"
    tokens = list(tokenize(selector))
    for i in range(1, len(tokens)):
        before, token = tokens[i - 1], tokens[i]
        if before.type == "DELIM" and before.value == ":" and token.type == "IDENT":
            name = str(token.value).lower()
            if name not in PSEUDO_CLASSES:
                return f"uses :{name}, which browsers do not support in selectors"
    return None


def _css_urls(tokens: Iterable[object]) -> Iterator[str]:
    for token in tokens:
        if isinstance(token, tinycss2.ast.URLToken):
            yield token.value
        elif isinstance(token, tinycss2.ast.FunctionBlock):
            if token.lower_name == "url":
                yield from (t.value for t in token.arguments if isinstance(t, tinycss2.ast.StringToken))
            yield from _css_urls(token.arguments)
        elif isinstance(token, (tinycss2.ast.ParenthesesBlock, tinycss2.ast.SquareBracketsBlock)):
            yield from _css_urls(token.content)


def _functions(tokens: Iterable[object]) -> Iterator[str]:
    for token in tokens:
        if isinstance(token, tinycss2.ast.FunctionBlock):
            yield token.lower_name
            yield from _functions(token.arguments)
        elif isinstance(token, (tinycss2.ast.ParenthesesBlock, tinycss2.ast.SquareBracketsBlock)):
            yield from _functions(token.content)


def declarations_problem(tokens: list[object] | str) -> str | None:
    """Why a declaration list (a rule's block or a `style` attribute) may not be used."""
    for item in tinycss2.parse_declaration_list(tokens, skip_comments=True, skip_whitespace=True):
        if isinstance(item, tinycss2.ast.ParseError):
            return f"is not valid CSS ({item.message}, line {item.source_line})"
        if not isinstance(item, tinycss2.ast.Declaration):
            continue
        if item.lower_name in _CSS_SCRIPT_PROPERTIES:
            return f"the {item.lower_name} property is not allowed (it runs code)"
        bad = next((t for t in item.value if isinstance(t, tinycss2.ast.ParseError)), None)
        if bad is not None:
            return f"is not valid CSS ({bad.message}, line {bad.source_line})"
        if "expression" in _functions(item.value):
            return "expression() is not allowed (it runs code)"
        for url in _css_urls(item.value):
            problem = url_problem(url, images=True)
            if problem is not None:
                return f"url({url[:40]}): {problem}"
    return None


def _rules_problem(rules: Iterable[object], depth: int = 0) -> str | None:
    for rule in rules:
        if isinstance(rule, tinycss2.ast.ParseError):
            return f"is not valid CSS ({rule.message}, line {rule.source_line})"
        if isinstance(rule, tinycss2.ast.AtRule):
            if rule.lower_at_keyword not in CSS_AT_RULES:
                return f"@{rule.lower_at_keyword} is not allowed (only @media, @supports, @container, @layer, @keyframes and @font-face)"
            if rule.content is None:
                continue
            if rule.lower_at_keyword in _NESTING_AT_RULES:
                if depth >= 4:
                    return "at-rules are nested too deeply (at most 4 levels)"
                problem = _rules_problem(
                    tinycss2.parse_rule_list(rule.content, skip_comments=True, skip_whitespace=True),
                    depth + 1,
                )
            elif rule.lower_at_keyword == "font-face":
                problem = declarations_problem(rule.content)
            else:  # keyframes: `from { ... }`, `50% { ... }`
                problem = _rules_problem(
                    tinycss2.parse_rule_list(rule.content, skip_comments=True, skip_whitespace=True),
                    depth + 1,
                )
        elif isinstance(rule, tinycss2.ast.QualifiedRule):
            problem = declarations_problem(rule.content)
        else:
            continue
        if problem is not None:
            return problem
    return None


def css_problem(css: str) -> str | None:
    """Why a stylesheet may not be inserted (None: it may)."""
    return _rules_problem(tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True))


def css_rule_selectors(css: str) -> tuple[str, ...]:
    """The selectors of a stylesheet's style rules (inside @media and the like too), without
    those that name a state or pseudo-element (`:hover`, `::before`): the elements the CSS
    restyles as the page paints, which the snippet hides until the change applies."""
    found: list[str] = []

    def walk(rules: Iterable[object]) -> None:
        for rule in rules:
            if isinstance(rule, tinycss2.ast.AtRule) and rule.content is not None:
                if rule.lower_at_keyword in _NESTING_AT_RULES:
                    walk(tinycss2.parse_rule_list(rule.content, skip_comments=True, skip_whitespace=True))
            elif isinstance(rule, tinycss2.ast.QualifiedRule):
                part: list[object] = []
                for token in [*rule.prelude, tinycss2.ast.LiteralToken(0, 0, ",")]:
                    if isinstance(token, tinycss2.ast.LiteralToken) and token.value == ",":
                        text = tinycss2.serialize(part).strip()
                        if text and ":" not in text:
                            found.append(text)
                        part = []
                    else:
                        part.append(token)

    walk(tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True))
    return tuple(dict.fromkeys(found))


def attribute_problem(name: str, value: str) -> str | None:
    """Why `set_attribute` may not set `name` to `value` (None: it may)."""
    if not _ATTRIBUTE_NAME.fullmatch(name):
        return "attribute must be an attribute name (letters, digits, - _ : .; at most 64)"
    lower = name.lower()
    if lower.startswith("on"):
        return f"{name} is an event handler: changes never run script"
    if lower in SCRIPT_ATTRIBUTES:
        return f"{name} would load a document that can run script"
    if lower == "style":
        return declarations_problem(value)
    if lower in URL_ATTRIBUTES:
        candidates = value.split(",") if lower == "srcset" else [value]
        for candidate in candidates:
            problem = url_problem(candidate.strip().split(" ")[0], images=lower in ("src", "srcset"))
            if problem is not None:
                return problem
    return None


class _MarkupCheck(HTMLParser):
    """Reads markup the way a lenient parser does and remembers the first thing that runs script."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problem: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.problem is not None:
            return
        if tag in SCRIPT_TAGS:
            self.problem = f"<{tag}> is not allowed in changes"
            return
        for name, value in attrs:
            problem = attribute_problem(name, value or "")
            if problem is not None:
                self.problem = f"<{tag}>: {problem}"
                return

    handle_startendtag = handle_starttag


def html_problem(markup: str) -> str | None:
    """Why markup may not be written into the page (None: it may, once cleaned)."""
    check = _MarkupCheck()
    check.feed(markup)
    check.close()
    return check.problem


def clean_html(markup: str) -> str:
    """The markup as stored and sent: Ammonia's allowlist cleaning (idempotent)."""
    return nh3.clean(
        markup,
        tags=set(HTML_TAGS),
        attributes=HTML_ATTRIBUTES,
        url_schemes=set(SAFE_SCHEMES),
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
