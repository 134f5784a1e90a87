"""Signing in to the console with OIDC in a real browser. The issuer is on another site
(``127.0.0.1``, the console on ``localhost``) and its page sends the browser back, so that
navigation carries no SameSite=Strict cookie; the callback's page moves on by a same-site
navigation, which does, and the browser ends on the overview holding the session cookie
alone, HttpOnly and Strict. (With a plain redirect from the callback to ``finish`` instead,
this test fails: the flow cookie is not sent.)"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.acceptance.server import Server
from tests.issuer import AUDIENCE, CLIENT_ID, Issuer, running


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    with running() as served:
        served.consent = True
        yield served


@pytest.fixture(scope="module")
def oidc_server(tmp_path_factory: pytest.TempPathFactory, issuer: Issuer) -> Iterator[Server]:
    """A server whose console is a client of the fake issuer, which signs users in to the
    ``default`` tenant."""
    data = tmp_path_factory.mktemp("oidc") / "data"
    server = Server(
        data,
        args=[
            "--oidc-issuer",
            issuer.url,
            "--oidc-jwks-url",
            f"{issuer.url}/jwks",
            "--oidc-audience",
            AUDIENCE,
            "--console-oidc-client-id",
            CLIENT_ID,
        ],
    )
    try:
        server.wait_ready()
        token = (data / "bootstrap-token").read_text().strip()
        with server.client(token) as client:
            issuer.claims = {"urn:chronik:tenant": client.get("/v1/me").json()["tenantId"]}
        yield server
    finally:
        server.kill()


def test_signing_in_at_the_issuer_ends_on_the_overview_with_a_strict_session(
    browser: Browser, oidc_server: Server, issuer: Issuer
) -> None:
    console = oidc_server.url.replace("127.0.0.1", "localhost")
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{console}/console/sign-in")
        page.get_by_role("link", name=re.compile(r"^Sign in with 127\.0\.0\.1:")).click()
        # A link on the issuer's own page: the navigation back is the issuer's, cross-site.
        page.get_by_role("link", name="Approve").click()
        expect(page).to_have_url(f"{console}/console/overview")
        expect(page.locator(".who")).to_have_text(f"tenant {issuer.claims['urn:chronik:tenant']}")
        cookies = context.cookies()
        assert [c["name"] for c in cookies] == ["chronik_console"]
        assert cookies[0]["httpOnly"] and cookies[0]["sameSite"] == "Strict"
    finally:
        context.close()
