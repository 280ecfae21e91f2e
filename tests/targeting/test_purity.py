"""targeting/ is pure: no I/O libraries, no web framework, no clock, nothing from edge/oauth."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "targeting"
SOURCES = sorted(PACKAGE.rglob("*.py"))

FORBIDDEN_TEXT = [
    r"^\s*import time\b",
    r"^\s*from time\b",
    r"datetime\.now",
    r"datetime\.utcnow",
    r"date\.today",
    r"\bhttpx\b",
    r"\bredis\b",
    r"\bstarlette\b",
    r"\buvicorn\b",
    r"\bsqlite3\b",
    r"^\s*(from|import) edge\b",
    r"^\s*(from|import) oauth\b",
    r"urllib\.request",
    r"\bsocket\b",
]
ALLOWED_TOP_LEVEL = {
    *("__future__", "base64", "binascii", "collections", "dataclasses", "enum", "hashlib"),
    *("hmac", "math", "operator", "re", "types", "typing", "msgspec", "targeting"),
    # Pure computation: packing hash lanes (bucketing.FnvLanes), caching their tables.
    *("struct", "functools"),
    # urllib for urllib.parse only (urllib.request is forbidden text above); RE2 for URL patterns.
    *("urllib", "re2"),
    # A variation's changes are checked and cleaned by pure parsers: no I/O, no clock.
    *("html", "nh3", "tinycss2", "cssselect"),
}


def test_package_has_sources() -> None:
    assert len(SOURCES) >= 10


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_no_forbidden_text(path: Path) -> None:
    text = path.read_text()
    found = [p for p in FORBIDDEN_TEXT if re.search(p, text, re.MULTILINE)]
    assert found == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_imports_only_stdlib_allowlist_and_msgspec(path: Path) -> None:
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported <= ALLOWED_TOP_LEVEL, imported - ALLOWED_TOP_LEVEL


def test_the_forbidden_patterns_catch_what_they_are_for() -> None:
    samples = [
        "import time",
        "from time import monotonic",
        "datetime.now()",
        "import httpx",
        "from edge.app import x",
        "from urllib.request import urlopen",
    ]
    for sample in samples:
        assert any(re.search(p, sample, re.MULTILINE) for p in FORBIDDEN_TEXT), sample
