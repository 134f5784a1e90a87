"""The console in Chromium: an operator signs in, sees a poisoned view on the overview,
retries its failed event once the cause is gone and watches the count drop; a read-only
token sees no button that writes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.acceptance.server import Server

pytestmark = pytest.mark.xdist_group("browser")
SAMPLE = f"{Path(__file__).parents[1] / 'cli' / 'sample_views.py'}:views"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    """A server running the sample views, with one event its ``counts`` and ``slow`` views
    gave up on (while the poison file exists)."""
    data = tmp_path_factory.mktemp("console") / "data"
    poison = data.parent / "poison"
    poison.touch()
    server = Server(data, args=["--views", SAMPLE])
    try:
        server.wait_ready()
        token = (data / "bootstrap-token").read_text().strip()
        with server.client(token) as client:
            appended = client.post(
                "/v1/events",
                json={
                    "events": [
                        {
                            "aggregateType": "user",
                            "aggregateId": "u-1",
                            "type": "user.added",
                            "payload": {"poisonFile": str(poison)},
                        }
                    ]
                },
            )
            assert appended.status_code == 200, appended.text
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                failed = client.get("/v1/failed-events").json()["failedEvents"]
                if sorted((f["view"], f["failureCount"]) for f in failed) == [
                    ("counts", 2),
                    ("slow", 2),
                ]:
                    break
                time.sleep(0.1)
            else:
                raise AssertionError("the sample views did not give up on the poisoned event")
            reader = client.post(
                "/v1/tokens", json={"name": "reader", "roles": ["IAM_OWNER_VIEWER"]}
            )
            assert reader.status_code == 201, reader.text
            (data.parent / "reader-token").write_text(reader.json()["token"])
        yield server, poison
    finally:
        server.kill()


def sign_in(browser: Browser, server: Server, token: str) -> Page:
    page = browser.new_context(base_url=server.url).new_page()
    page.goto("/console/")
    page.get_by_label("Token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    return page


def test_an_operator_retries_a_failed_event_and_the_count_drops(
    browser: Browser, served: tuple[Server, Path]
) -> None:
    server, poison = served
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
    expect(page.locator("#failed-total")).to_have_text("1")  # the other view's is left
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Token")).to_be_visible()


def test_a_read_only_token_sees_no_button_that_writes(
    browser: Browser, served: tuple[Server, Path]
) -> None:
    server, _ = served
    page = sign_in(browser, server, (server.data.parent / "reader-token").read_text())
    page.get_by_role("link", name="Views").click()
    expect(page.get_by_role("heading", name="Views")).to_be_visible()
    expect(page.get_by_role("button", name="Pause")).to_have_count(0)
    expect(page.get_by_role("link", name="Reset…")).to_have_count(0)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_an_operator_finds_an_event_by_filter_and_opens_it(
    browser: Browser, served: tuple[Server, Path]
) -> None:
    server, _ = served
    page = sign_in(browser, server, (server.data / "bootstrap-token").read_text().strip())
    page.get_by_role("link", name="Events").click()
    page.get_by_label("Event types").fill("user.added")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(1)
    rows.first.get_by_role("link").click()
    expect(page.locator("#payload")).to_contain_text('"poisonFile"')
    expect(page.get_by_role("heading", name="The request's events")).to_be_visible()
