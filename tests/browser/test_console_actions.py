"""The actions pages in Chromium: an operator opens an action, types a script with a syntax
error and sees it at its line as they type (and with Check) before saving, fixes it, saves
it, and runs a test with a sample event that shows the line the script logged."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.acceptance.server import Server
from tests.browser.console import sign_in

pytestmark = pytest.mark.xdist_group("browser")

GREET = "function greet(ctx, api) {\n  log.info('hello')\n}"


def test_an_operator_fixes_a_syntax_error_saves_and_test_runs_an_action(
    browser: Browser, console_server: tuple[Server, Path]
) -> None:
    server, _ = console_server
    token = (server.data / "bootstrap-token").read_text().strip()
    with server.client(token) as client:
        created = client.post(
            "/management/v1/actions", json={"name": "greet", "script": GREET, "timeout": "5s"}
        )
        assert created.status_code == 200, created.text
    page = sign_in(browser, server, token)
    page.get_by_role("navigation").get_by_role("link", name="Actions").click()
    page.get_by_role("link", name="greet", exact=True).click()
    expect(page.get_by_role("heading", name="greet", exact=True)).to_be_visible()

    script = page.get_by_label("Script", exact=True)
    script.fill("function greet(ctx, api) {\n  let x = ;\n}")
    script.press("End")  # checked as one types, without pressing Check
    expect(page.locator("#check-result")).to_contain_text("Line 2, column 11")
    expect(page.locator("#check-result .bad")).to_contain_text("let x = ;")

    script.fill("function greet(ctx, api) {\n  log.info('greeting ' + ctx.event.type)\n}")
    page.get_by_role("button", name="Check").click()
    expect(page.locator("#check-result")).to_have_text("No syntax errors.")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()

    page.get_by_label("Sample event").fill('{"type": "user.added"}')
    page.get_by_role("button", name="Run test").click()
    expect(page.locator("#test-outcome")).to_have_text("succeeded")
    expect(page.locator("#test-logs")).to_have_text("info: greeting user.added")
