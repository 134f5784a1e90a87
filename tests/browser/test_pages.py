"""The pages a browser opens, in a real browser: the landing page and its links, and the API
documentation (Swagger UI, ReDoc), which must render the API's operations from assets of the
server's own, asking no other host for anything."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Visit

pytestmark = pytest.mark.xdist_group("browser")

LANDING_LINKS = ["/console/", "/docs", "/redoc", "/openapi.json", "/healthz", "/metrics"]


def operations(visit: Visit) -> list[tuple[str, str, str]]:
    """(method, path, summary) of every operation of the server's OpenAPI document."""
    document: dict[str, Any] = httpx.get(f"{visit.server.url}/openapi.json").json()
    return [
        (method.upper(), path, operation.get("summary", ""))
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]


def test_the_landing_page_names_the_server_and_its_version(visit: Visit) -> None:
    visit.page.goto("/")

    expect(visit.page.locator("h1")).to_have_text("Chronik")
    expect(visit.page.locator("body")).to_contain_text(f"version {version('chronik')}")
    assert visit.foreign() == []


def test_the_landing_page_links_the_console_and_the_docs(
    visit: Visit,
) -> None:
    visit.page.goto("/")

    links = visit.page.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert links == LANDING_LINKS


@pytest.mark.parametrize("href", LANDING_LINKS)
def test_every_link_of_the_landing_page_opens(visit: Visit, href: str) -> None:
    visit.page.goto("/")

    with visit.page.expect_navigation() as navigation:
        visit.page.locator(f"a[href='{href}']").click()

    response = navigation.value
    assert response is not None and response.status == 200, href
    landed = "/console/sign-in" if href == "/console/" else href  # not signed in yet
    assert visit.page.url == f"{visit.server.url}{landed}"


def test_swagger_ui_lists_every_operation_of_the_api(visit: Visit) -> None:
    expected = operations(visit)

    visit.page.goto("/docs")

    blocks = visit.page.locator(".opblock")
    expect(blocks).to_have_count(len(expected))
    expect(visit.page.locator(".opblock-summary-path[data-path='/v1/tokens']")).to_have_count(2)
    expect(visit.page.locator(".info .title")).to_contain_text("Chronik")


def test_swagger_ui_asks_no_other_host_for_anything(visit: Visit) -> None:
    visit.page.goto("/docs")
    expect(visit.page.locator(".opblock").first).to_be_visible()
    visit.page.wait_for_load_state("networkidle")

    assert visit.foreign() == []
    served = {url.removeprefix(visit.server.url) for url in visit.requested}
    assert {"/assets/docs/swagger-ui-bundle.js", "/assets/docs/swagger-ui.css"} <= served
    assert "/openapi.json" in served


def test_redoc_lists_every_operation_of_the_api(visit: Visit) -> None:
    expected = operations(visit)

    visit.page.goto("/redoc")

    menu = visit.page.locator("li[data-item-id*='/operation/']")
    expect(menu).to_have_count(len(expected))
    labels = menu.locator("label").all_text_contents()
    assert any(
        label.endswith("Issue a token (its secret is answered now, and never again)")
        for label in labels
    )


def test_redoc_asks_no_other_host_for_anything(visit: Visit) -> None:
    visit.page.goto("/redoc")
    expect(visit.page.locator("[role=menuitem]").first).to_be_visible()
    visit.page.wait_for_load_state("networkidle")

    assert visit.foreign() == []
    served = {url.removeprefix(visit.server.url) for url in visit.requested}
    assert {"/assets/docs/redoc.standalone.js", "/openapi.json"} <= served


@pytest.mark.parametrize("page", ["/", "/docs", "/redoc"])
def test_a_pages_favicon_is_served_by_the_server(visit: Visit, page: str) -> None:
    visit.page.goto(page, wait_until="domcontentloaded")

    href = visit.page.locator("link[rel~='icon']").get_attribute("href")

    assert href is not None and href.startswith("/")
    icon = visit.page.request.get(href)
    assert icon.status == 200 and icon.headers["content-type"] == "image/png"
