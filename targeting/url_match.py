"""`url` and `landing_url` conditions: what a value means, checking it, and its matcher.

Path or whole URL: a value starting with `/` compares with the page's path; any other value
with the whole URL `scheme://host[:port]/path` (urls.py). Neither includes the query or the
fragment (`query_param:NAME` tests parameters), so a value with `?` or `#` is refused (for
`matches` globs, `?` is a wildcard). Hosts compare case-insensitively: the visit's scheme and
host are lower case, and so is the `scheme://host` start of a value. Paths compare
case-sensitively, percent-decoded on both sides (`/%C3%A9t%C3%A9` and `/été` are the same).

    equals       the path (or whole URL) is the value; a whole-URL value is an absolute
                 http(s) URL ("https://shop.example" means its home page, "/")
    starts_with  the path (or whole URL) starts with the value
    contains     the value occurs in the path (or whole URL)
    matches      a glob by default: `*` is any run of characters (including `/`), `?` one
                 character, all else literal, matched against the whole path (or whole URL):
                 "/products/*", "https://shop.example/collections/*/sale".
                 A value starting with `re:` is a regular expression instead, in RE2 syntax
                 (no backreferences or look-around), of at most `MAX_REGEX` characters,
                 searched anywhere (anchor it with ^ and $); its subject is the path when the
                 expression starts with `/` or `^/`, else the whole URL:
                 "re:^/products/(hat|scarf)-[0-9]+$".

Why RE2: merchants type these patterns and every page view runs them. RE2 matches in time
linear in the URL's length whatever the pattern, so `(a+)+$`, which makes a backtracking engine
such as Python's `re` run for ages, costs nothing; its memory per pattern is capped
(`RE2_MAX_MEM`), so a pattern too big to compile within it is refused. Globs compile to RE2 too.
Values are at most `MAX_URL_VALUE` characters.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import unquote

import re2

REGEX_PREFIX: Final = "re:"
MAX_URL_VALUE: Final = 1024
MAX_REGEX: Final = 256
RE2_MAX_MEM: Final = 1 << 20
URL_OPERATORS: Final = frozenset({"equals", "contains", "starts_with", "matches"})
_SCHEME_HOST: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^/?#]*)(.*)", re.DOTALL)
_WHOLE_URL: Final = re.compile(r"https?://[^/?#]+(/.*)?", re.DOTALL | re.IGNORECASE)
_GLOB_WILDCARDS: Final = re.compile(r"(\*+|\?)")

Matcher = Callable[[str], bool]


def _re2(pattern: str) -> Any:
    """Compile with RE2 under the memory cap; raises `re2.error` for a bad or oversized one."""
    options = re2.Options()
    options.max_mem = RE2_MAX_MEM
    options.log_errors = False
    return re2.compile(pattern, options)


def _normal(value: str, *, home: bool) -> str:
    """Lower-case a `scheme://host` start, percent-decode; `home`: a bare origin means "/"."""
    found = _SCHEME_HOST.fullmatch(value)
    if found is not None:
        rest = found[2] or ("/" if home else "")
        value = found[1].lower() + rest
    return unquote(value, errors="replace")


def _glob_pattern(glob: str) -> str:
    pieces = []
    for piece in _GLOB_WILDCARDS.split(glob):
        if piece.startswith("*"):
            pieces.append(".*")
        elif piece == "?":
            pieces.append(".")
        elif piece:
            pieces.append(re2.escape(piece))
    return "(?s)" + "".join(pieces)


def check_url_value(value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    if len(value) > MAX_URL_VALUE:
        return f"must be at most {MAX_URL_VALUE} characters"
    return None


def check_url_condition(operator: str, value: object) -> str | None:
    """A problem with a (string, bounded) value for this operator, or None."""
    assert isinstance(value, str)
    if operator == "matches":
        if value.startswith(REGEX_PREFIX):
            pattern = value[len(REGEX_PREFIX) :]
            if not pattern or len(pattern) > MAX_REGEX:
                return f"a regular expression (after re:) must be 1-{MAX_REGEX} characters"
            compiled = pattern
        else:
            compiled = _glob_pattern(_normal(value, home=True))
        try:
            _re2(compiled)
        except re2.error as error:
            detail = error.args[0].decode("utf-8", "replace") if error.args else "invalid"
            return f"is not a valid RE2 pattern (no backreferences or look-around): {detail}"
        return None
    if "?" in value or "#" in value:
        return "the query and fragment are not compared: leave them out (query_param:NAME tests parameters)"
    if operator != "contains" and not value.startswith("/") and not _WHOLE_URL.fullmatch(value):
        return 'must be a path starting with "/" or a whole URL starting with http:// or https://'
    return None


def url_matcher(operator: str, value: str) -> tuple[bool, Matcher]:
    """(whether the value tests the path, else the whole URL; the test) for a valid condition."""
    if operator == "matches" and value.startswith(REGEX_PREFIX):
        pattern = value[len(REGEX_PREFIX) :]
        search = _re2(pattern).search
        return pattern.startswith(("/", "^/")), lambda subject: search(subject) is not None
    on_path = value.startswith("/")
    wanted = _normal(value, home=operator != "contains")
    if operator == "matches":
        fullmatch = _re2(_glob_pattern(wanted)).fullmatch
        return on_path, lambda subject: fullmatch(subject) is not None
    if operator == "equals":
        return on_path, lambda subject: subject == wanted
    if operator == "starts_with":
        return on_path, lambda subject: subject.startswith(wanted)
    return on_path, lambda subject: wanted in subject
