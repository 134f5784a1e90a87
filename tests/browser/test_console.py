"""The console in Chromium: an operator signs in, sees a poisoned view on the overview,
retries its failed event once the cause is gone and watches the count drop; a read-only
token sees no button that writes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.acceptance.server import Server
from tests.browser.console import sign_in

pytestmark = pytest.mark.xdist_group("browser")


def test_an_operator_retries_a_failed_event_and_the_count_drops(
    browser: Browser, console_server: tuple[Server, Path]
) -> None:
    server, poison = console_server
    token = (server.data / "bootstrap-token").read_text().strip()
    page = sign_in(browser, server, token)
    expect(page.locator("#failed-total")).to_have_text("2")  # one in each sample view

    page.get_by_role("link", name="counts").click()
    expect(page.get_by_role("heading", name="Failed events of counts")).to_be_visible()
    expect(page.locator("pre")).to_contain_text("exists")

    poison.unlink()  # the cause is fixed
    page.get_by_role("button", name="Retry event").click()
    deadline = time.monotonic() + 10
    while page.locator("#failed-count").inner_text() != "0" and time.monotonic() < deadline:
        page.wait_for_timeout(100)
        page.reload()
    expect(page.locator("#failed-count")).to_have_text("0")
    page.get_by_role("link", name="Overview").click()
    # The view's row drops to 0 (the other view retries its copy on its own schedule).
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="counts"))
    expect(row.locator("td[data-failed]")).to_have_text("0")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Token")).to_be_visible()


def test_a_read_only_token_sees_no_button_that_writes(
    browser: Browser, console_server: tuple[Server, Path]
) -> None:
    server, _ = console_server
    page = sign_in(browser, server, (server.data.parent / "reader-token").read_text())
    page.get_by_role("link", name="Views").click()
    expect(page.get_by_role("heading", name="Views")).to_be_visible()
    expect(page.get_by_role("button", name="Pause")).to_have_count(0)
    expect(page.get_by_role("link", name="Reset…")).to_have_count(0)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_an_operator_finds_an_event_by_filter_and_opens_it(
    browser: Browser, console_server: tuple[Server, Path]
) -> None:
    server, _ = console_server
    page = sign_in(browser, server, (server.data / "bootstrap-token").read_text().strip())
    page.get_by_role("link", name="Events").click()
    page.get_by_label("Event types").fill("user.added")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(1)
    rows.first.get_by_role("link").click()
    expect(page.locator("#payload")).to_contain_text('"poisonFile"')
    expect(page.get_by_role("heading", name="The request's events")).to_be_visible()


def test_a_token_of_another_tenant_sees_none_of_this_tenants_data(
    browser: Browser, console_server: tuple[Server, Path]
) -> None:
    server, _ = console_server
    owner = sign_in(browser, server, (server.data / "bootstrap-token").read_text().strip())
    owner.goto("/console/events")
    first = owner.locator("tbody tr a").first
    expect(first).to_be_visible()
    ours = first.get_attribute("href")
    assert ours

    page = sign_in(browser, server, (server.data.parent / "stranger-token").read_text())
    expect(page.locator("#failed-total")).to_have_text("0")
    page.get_by_role("link", name="Events").click()
    expect(page.locator("tbody")).to_contain_text("No events")
    page.goto(ours)
    expect(page.get_by_role("heading", name="Refused")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("poisonFile")
    page.goto("/console/views/counts/failed")
    expect(page.locator("#failed-count")).to_have_text("0")


def test_an_operator_signs_in_and_moves_about_with_the_keyboard_alone(
    browser: Browser, server: Server
) -> None:
    page = browser.new_context(base_url=server.url).new_page()
    page.goto("/console/sign-in")
    expect(page.get_by_label("Token")).to_be_focused()  # ready to type
    page.keyboard.type((server.data / "bootstrap-token").read_text().strip())
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    for _ in range(10):  # through the menu, in reading order
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Events":
            break
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Events")).to_be_visible()
    outline = page.evaluate(
        "getComputedStyle(document.querySelector('input[name=eventTypes]')).outlineStyle"
    )
    page.get_by_label("Event types").focus()
    focused = page.evaluate(
        "getComputedStyle(document.querySelector('input[name=eventTypes]')).outlineStyle"
    )
    assert (outline, focused) == ("none", "solid")  # the focused control is outlined


def test_the_pages_fit_a_phone_and_follow_the_dark_preference(
    browser: Browser, server: Server
) -> None:
    context = browser.new_context(
        base_url=server.url, viewport={"width": 390, "height": 844}, color_scheme="dark"
    )
    page = context.new_page()
    page.goto("/console/sign-in")
    page.get_by_label("Token").fill((server.data / "bootstrap-token").read_text().strip())
    page.get_by_role("button", name="Sign in").click()
    for path in ("/console/overview", "/console/events", "/console/jobs", "/console/actions"):
        page.goto(path)
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= 390, f"{path} is {wide} px wide on a 390 px screen"
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(20, 20, 22)"  # the dark scheme's, not white
    context.close()
