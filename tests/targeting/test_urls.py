"""targeting/urls.py's one-pass host and port reading equals urllib's properties, on odd URLs too.

`_reference_*` is the implementation before the one-pass reading (urllib's `.hostname` and
`.port`, each re-parsing the netloc), kept here as the reference."""

from __future__ import annotations

from urllib.parse import SplitResult, unquote, urlsplit

from hypothesis import example, given, settings
from hypothesis import strategies as st

from targeting.urls import _DEFAULT_PORTS, MAX_URL_CHARS, PageUrl, parse_page_url, referrer_host


def _reference_split(text: object) -> SplitResult | None:
    if not isinstance(text, str) or not 0 < len(text) <= MAX_URL_CHARS:
        return None
    try:
        parts = urlsplit(text.strip())
        _ = parts.port
    except ValueError:
        return None
    return parts


def _reference_host_of(parts: SplitResult) -> str | None:
    host = parts.hostname
    if not host:
        return None
    host = host.rstrip(".")
    return f"[{host}]" if ":" in host else host


def _reference_parse_page_url(text: object) -> tuple[PageUrl, SplitResult] | None:
    parts = _reference_split(text)
    if parts is None or parts.scheme not in _DEFAULT_PORTS:
        return None
    host = _reference_host_of(parts)
    if host is None:
        return None
    port = parts.port
    netloc = host if port is None or port == _DEFAULT_PORTS[parts.scheme] else f"{host}:{port}"
    path = unquote(parts.path or "/", errors="replace")
    if not path.startswith("/"):
        path = "/" + path
    return PageUrl(f"{parts.scheme}://{netloc}{path}", path, host), parts


def _reference_referrer_host(text: object) -> str | None:
    parts = _reference_split(text)
    return None if parts is None else _reference_host_of(parts)


_ODD = "[]@:%./?#&=+ \t\n\x00\x7f\u00e9\u0663\uff11\u2100"
_SCHEMES = st.sampled_from(
    ["http", "https", "HTTP", "HtTpS", "ftp", "android-app", "mailto", "file", "", "h-t.t+p", "1http"]
)
_LABEL = st.text(alphabet="abcXYZ09-_\u00e9\u0130" + _ODD, max_size=12)
_HOSTS = st.one_of(
    st.builds(".".join, st.lists(_LABEL, max_size=4)),
    st.sampled_from(
        [
            "Shop.Example.COM",
            "shop.example.",
            "shop.example..",
            ".",
            "",
            "127.0.0.1",
            "[::1]",
            "[2001:DB8::A]",
            "[fe80::1%25ETH0]",
            "[fe80::1%Zone]",
            "[::1",
            "::1]",
            "[v1.x]",
            "[]",
            "a[b]c",
            "xn--e1afmkfd.xn--p1ai",
            "ШОП.РФ",
        ]
    ),
)
_PORTS = st.one_of(
    st.none(),
    st.sampled_from(
        ["", "0", "80", "443", "0443", "8443", "65535", "65536", "99999", "-1", "8o", "\u0663", "\uff11"]
    ),
    st.integers(min_value=0, max_value=10**6).map(str),
    st.text(alphabet="0123456789:]a", max_size=6),
)
_USERINFO = st.one_of(st.none(), st.sampled_from(["user", "user:secret", "a@b", "[::1]", "u:p@x:1", ""]))
_TAIL = st.text(alphabet="aZ/%20%C3%A9%zz?#=&+;" + _ODD, max_size=24)


@st.composite
def _urls(draw: st.DrawFn) -> str:
    scheme, userinfo, host, port = draw(_SCHEMES), draw(_USERINFO), draw(_HOSTS), draw(_PORTS)
    netloc = (
        (f"{userinfo}@" if userinfo is not None else "") + host + (f":{port}" if port is not None else "")
    )
    slashes = draw(st.sampled_from(["//", "//", "/", "", "///", "\\\\"]))
    text = f"{scheme}:{slashes}{netloc}{draw(_TAIL)}"
    return draw(st.sampled_from(["", " ", "\t", "\x00"])) + text + draw(st.sampled_from(["", " ", "\n"]))


_TEXTS = st.one_of(
    _urls(),
    st.text(max_size=64),
    st.builds(lambda u, n: u + "a" * n, _urls(), st.integers(MAX_URL_CHARS - 70, MAX_URL_CHARS + 10)),
)


@settings(max_examples=3000, deadline=None)
@given(_TEXTS)
@example("https://shop.example.com/")
@example("HTTPS://User:Pw@Shop.Example.COM.:0443/%C3%A9t%C3%A9?x=1#f")
@example("http://[FE80::1%25Zone]:8080/a")
@example("http://[::1]x:80/")
@example("http://./")
@example("http://shop.example:/")
@example("http://shop.example:65536/")
@example("http://shop.example:\u0663/")
@example("http://[::1/")
@example("https://" + "a" * MAX_URL_CHARS)
@example("android-app://com.Google.Android.Gm/")
@example(None)
@example("")
def test_page_urls_and_referrer_hosts_equal_the_reference(text: str | None) -> None:
    assert parse_page_url(text) == _reference_parse_page_url(text)
    assert referrer_host(text) == _reference_referrer_host(text)
