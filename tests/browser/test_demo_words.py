"""The demo storefront's debug box in real Chromium: each reason code with the words a merchant
understands beside it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from demo.setup import create_demo_app
from demo.storefront import IDENTITY_WORDS, REASON_WORDS
from tests.apps import make_settings
from tests.browser.live_server import live_server
from tests.browser.test_demo import FINAL, _connected
from tests.waiting import free_port, wait_until

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = create_demo_app(make_settings(tmp_path_factory.mktemp("demo-words"), public_url=base))
    with live_server(app, port=port, lifespan="on"):
        wait_until(lambda: _connected(base, app.state.demo_site), timeout=30, what="the demo to connect")
        yield base


def test_the_debug_box_explains_each_code_in_words(page: Page, demo: str) -> None:
    page.goto(f"{demo}/demo/visit/anonymous")
    page.wait_for_function(FINAL)
    expect(page.locator("#identity-words")).to_have_text(f"({IDENTITY_WORDS['unidentified']})")
    decisions = page.locator("#decisions").text_content() or ""
    lines = [line for line in decisions.splitlines() if line]
    assert lines, decisions
    for line in lines:
        code = line.rsplit("(", 1)[-1].rstrip(")")
        assert code in REASON_WORDS, line
        assert REASON_WORDS[code] in line, line
