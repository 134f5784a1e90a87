"""Fixtures of the browser suite: one ``chronik serve`` for the whole session, one headless
Chromium (Debian's, driven by Playwright) per module, and pages that record every request they make
and let none leave for another host."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from tests.acceptance.server import Server
from tests.browser.console import console_server  # noqa: F401  (a fixture)
from tests.conftest import unavailable

# Assertions wait up to 15 s (Playwright's default is 5): under the whole suite's load on two
# cores, Redoc took longer than 5 s to render the API's menu.
expect.set_options(timeout=15_000)

CHROMIUM = Path(os.environ.get("CHRONIK_TEST_CHROMIUM", "/usr/bin/chromium"))
"""Debian's Chromium (``apt-get install chromium``); Playwright never downloads a browser."""
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server on an embedded database: the pages read no events."""
    started = Server(tmp_path_factory.mktemp("browser") / "data")
    try:
        started.wait_ready()
        yield started
    finally:
        started.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One browser per test module: Playwright's synchronous API holds an event loop of its
    own as the running one until it stops, and an async test run meanwhile would fail."""
    if not CHROMIUM.is_file():
        unavailable(
            f"no Chromium at {CHROMIUM}: scripts/test installs Debian's chromium when run as "
            "root, or set CHRONIK_TEST_CHROMIUM"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Visit:
    """A page of the server's, and every URL it asked for, in order (those for another host
    were refused)."""

    page: Page
    server: Server
    requested: list[str] = field(default_factory=list)

    def foreign(self) -> list[str]:
        """The requests that were not for the server."""
        ours = urlsplit(self.server.url).netloc
        return [url for url in self.requested if urlsplit(url).netloc != ours]


@pytest.fixture
def visit(browser: Browser, server: Server) -> Iterator[Visit]:
    context = browser.new_context(base_url=server.url)
    visit = Visit(context.new_page(), server)

    def record(route: Route) -> None:
        visit.requested.append(route.request.url)
        if urlsplit(route.request.url).netloc == urlsplit(server.url).netloc:
            route.continue_()
        else:
            route.abort()

    context.route("**/*", record)
    try:
        yield visit
    finally:
        context.close()
