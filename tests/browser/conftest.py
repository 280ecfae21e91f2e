"""Fixtures for tests that drive Debian's Chromium through Playwright's sync API.

- `browser` (package scope, i.e. every test under tests/browser/ shares it): one headless
  Chromium, `/usr/bin/chromium` (or `KX_EDGE_CHROMIUM`) with the flags this machine needs (no background networking: the network is closed).
  Playwright launches it on a fresh temporary user-data dir and deletes it on close (it refuses
  `--user-data-dir` itself).
- `context` (function): a new BrowserContext per test, so cookies and storage never leak between
  tests.
- `page` (function): a page in that context with a 10 s default timeout; uncaught page errors are
  collected in `page_errors`; when the test fails, a screenshot goes to
  `test-artifacts/<test id>.png`.
- `artifacts_dir` (session): `test-artifacts/` at the repository root, created on demand.

Why package scope and not session: Playwright's sync API leaves its event loop marked as running
on the main thread for as long as it lives, and every pytest-asyncio test that runs meanwhile
fails with "Runner.run() cannot be called from a running event loop" (playwright-pytest#167,
pytest-asyncio#359). Closing it when the last test of this package is done keeps the other
packages' async tests working. For the same reason: write browser tests (and their fixtures) as
plain `def`, marked `@pytest.mark.browser`, and keep async tests out of this package.

Without Chromium these tests skip on a developer's machine and fail in CI (CI=true), so a missing
browser can never turn the suite green by skipping.
"""

from __future__ import annotations

import os
import re
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.apps import BROWSER_UA

CHROMIUM = os.environ.get("KX_EDGE_CHROMIUM", "/usr/bin/chromium")
# Headless Chromium says "HeadlessChrome" in its user agent, which the crawler list (rightly)
# calls a bot, and a bot gets every test's control. The tests play real visitors, so every
# context speaks as the desktop Chrome the headless build is.
VISITOR_USER_AGENT = BROWSER_UA
CHROMIUM_ARGS = [
    f"--user-agent={VISITOR_USER_AGENT}",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DEFAULT_TIMEOUT_MS = 10_000

_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    # Keep each phase's report on the item so the `page` fixture knows, at teardown, if it failed.
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        message = f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI must run the browser tests, not skip them)")
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page_errors() -> list[str]:
    """Uncaught exceptions and unhandled rejections seen by `page` (filled as they happen)."""
    return []


@pytest.fixture
def page(
    request: pytest.FixtureRequest,
    context: BrowserContext,
    page_errors: list[str],
    artifacts_dir: Path,
) -> Iterator[Page]:
    page = context.new_page()
    page.on("pageerror", lambda error: page_errors.append(f"{error.name}: {error.message}"))
    yield page
    call = request.node.stash.get(_REPORTS, {}).get("call")
    if call is not None and call.failed and not page.is_closed():
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:]
        page.screenshot(path=str(artifacts_dir / f"{name}.png"), full_page=True)
