"""Signing in to the console with OIDC, against a fake issuer on a loopback port: the flow
ends in a session only when the browser that started it finishes it with its state, and
every cookie the console sets is HttpOnly and SameSite=Strict."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from chronik.api import create_app
from chronik.services import Chronik
from chronik.settings import Settings
from tests.issuer import AUDIENCE, CLIENT_ID, Issuer, serving


@pytest.fixture
def backend() -> str:
    """SQLite only: the flow keeps nothing in storage but a secret and the tenant, which
    the contract suite tests on every backend."""
    return "sqlite"


@pytest.fixture
async def issuer() -> AsyncIterator[Issuer]:
    async with serving() as served:
        yield served


@contextlib.asynccontextmanager
async def _console(settings: Settings, root: str = "") -> AsyncIterator[httpx.AsyncClient]:
    """A browser of a console with ``settings`` (served under ``root``); the tenant
    ``acme`` exists."""
    async with await Chronik.open(settings) as chronik:
        await chronik.tenants.create("acme", tenant_id="acme")
        app = create_app(settings, chronik=chronik)
        transport = httpx.ASGITransport(app=app, root_path=root)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as browser:
            yield browser


def _client_of(settings: Settings, issuer: Issuer, public_url: str = "") -> Settings:
    return dataclasses.replace(
        settings,
        oidc_issuer=issuer.url,
        oidc_audience=AUDIENCE,
        oidc_jwks_url=f"{issuer.url}/jwks",
        console_oidc_client_id=CLIENT_ID,
        console_public_url=public_url,
    )


@pytest.fixture
async def browser(settings: Settings, issuer: Issuer) -> AsyncIterator[httpx.AsyncClient]:
    """A browser of a console that is a client of the fake issuer."""
    async with _console(_client_of(settings, issuer)) as client:
        yield client


async def _to_issuer_and_back(
    browser: httpx.AsyncClient, root: str = ""
) -> tuple[httpx.Response, str]:
    """Start a sign-in and let the issuer approve it: the callback's page and where it moves
    on to."""
    sign_in = await browser.get(f"{root}/console/sign-in")
    assert f'href="{root}/console/oidc/start"' in sign_in.text
    started = await browser.get(f"{root}/console/oidc/start")
    assert started.status_code == 303, started.text
    async with httpx.AsyncClient() as elsewhere:  # the issuer's site: no console cookie
        approved = await elsewhere.get(started.headers["location"])
    assert approved.is_redirect, approved.text
    back = urlsplit(approved.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == f"http://test{root}/console/oidc/callback"
    callback = await browser.get(f"{back.path}?{back.query}")
    assert callback.status_code == 200
    refresh = re.search(r'http-equiv="refresh" content="0; url=([^"]+)"', callback.text)
    assert refresh, callback.text
    return callback, refresh[1].replace("&amp;", "&")


async def test_the_whole_flow_signs_in_and_the_overview_shows_the_tenant(
    browser: httpx.AsyncClient,
) -> None:
    callback, onward = await _to_issuer_and_back(browser)
    assert "set-cookie" not in callback.headers
    finished = await browser.get(onward)
    assert finished.status_code == 303, finished.text
    assert finished.headers["location"] == "/console/overview"
    overview = await browser.get("/console/overview")
    assert overview.status_code == 200 and "tenant acme" in overview.text


async def test_every_cookie_of_the_flow_is_httponly_and_strict(
    browser: httpx.AsyncClient,
) -> None:
    set_cookies: list[str] = []

    async def record(response: httpx.Response) -> None:
        set_cookies.extend(response.headers.get_list("set-cookie"))

    browser.event_hooks["response"].append(record)
    _, onward = await _to_issuer_and_back(browser)
    await browser.get(onward)
    overview = await browser.get("/console/overview")
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', overview.text)
    assert csrf, overview.text
    signed_out = await browser.post("/console/sign-out", data={"csrf": csrf[1]})
    assert signed_out.status_code == 303
    # the flow cookie set and cleared, the session set and cleared
    assert len(set_cookies) == 4, set_cookies
    for cookie in set_cookies:
        flags = [part.strip().lower() for part in cookie.split(";")]
        assert "httponly" in flags and "samesite=strict" in flags, cookie


async def test_a_finish_with_another_state_is_refused_and_signs_nothing_in(
    browser: httpx.AsyncClient,
) -> None:
    for forged in ("forged", "é"):
        _, onward = await _to_issuer_and_back(browser)
        url = urlsplit(onward)
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        refused = await browser.get(url.path, params={**query, "state": forged})
        assert refused.status_code == 400 and "stale or was not started here" in refused.text
    assert browser.cookies.get("chronik_console") is None
    assert (await browser.get("/console/overview")).headers["location"].endswith("/sign-in")


async def test_a_callback_without_the_flow_cookie_signs_nothing_in(
    browser: httpx.AsyncClient,
) -> None:
    _, onward = await _to_issuer_and_back(browser)
    browser.cookies.clear()  # another browser than the one that started it
    refused = await browser.get(onward)
    assert refused.status_code == 400 and "stale or was not started here" in refused.text
    assert "chronik_console=" not in refused.headers.get("set-cookie", "")
    assert (await browser.get("/console/overview")).headers["location"].endswith("/sign-in")


async def test_the_issuers_error_is_shown(browser: httpx.AsyncClient, issuer: Issuer) -> None:
    issuer.deny = True
    _, onward = await _to_issuer_and_back(browser)
    refused = await browser.get(onward)
    assert refused.status_code == 400
    assert "did not sign you in: access_denied (the user said no)" in refused.text
    assert browser.cookies.get("chronik_console") is None


async def test_a_token_without_the_tenant_claim_is_refused(
    browser: httpx.AsyncClient, issuer: Issuer
) -> None:
    issuer.claims = {"urn:chronik:tenant": ""}
    _, onward = await _to_issuer_and_back(browser)
    refused = await browser.get(onward)
    assert refused.status_code == 401 and "urn:chronik:tenant" in refused.text
    assert browser.cookies.get("chronik_console") is None


async def test_an_unreachable_issuer_gives_a_page_that_says_so(
    settings: Settings,
) -> None:
    unreachable = "http://127.0.0.1:9"
    configured = dataclasses.replace(
        settings,
        oidc_issuer=unreachable,
        oidc_jwks_url=f"{unreachable}/jwks",
        console_oidc_client_id=CLIENT_ID,
    )
    async with _console(configured) as browser:
        answer = await browser.get("/console/oidc/start")
        assert answer.status_code == 503
        assert "Signing in with 127.0.0.1:9 is not possible now" in answer.text


async def test_without_the_client_id_the_sign_in_page_offers_no_oidc(
    settings: Settings, issuer: Issuer
) -> None:
    configured = dataclasses.replace(
        settings, oidc_issuer=issuer.url, oidc_jwks_url=f"{issuer.url}/jwks"
    )
    async with _console(configured) as browser:
        page = await browser.get("/console/sign-in")
        assert page.status_code == 200 and "/console/oidc/start" not in page.text
        assert (await browser.get("/console/oidc/start")).status_code == 404


async def test_behind_a_root_path_the_flow_and_its_cookies_stay_under_it(
    settings: Settings, issuer: Issuer
) -> None:
    async with _console(_client_of(settings, issuer), root="/chronik") as browser:
        _, onward = await _to_issuer_and_back(browser, "/chronik")
        assert onward.startswith("/chronik/console/oidc/finish?")
        finished = await browser.get(onward)
        assert finished.headers["location"] == "/chronik/console/overview"
        assert "Path=/chronik/console;" in finished.headers["set-cookie"]
        overview = await browser.get("/chronik/console/overview")
        assert overview.status_code == 200 and "tenant acme" in overview.text


async def test_the_public_url_setting_names_the_redirect_uri(
    settings: Settings, issuer: Issuer
) -> None:
    public = _client_of(settings, issuer, "https://chronik.example/")
    async with _console(public) as browser:
        started = await browser.get("/console/oidc/start")
    asked = parse_qs(urlsplit(started.headers["location"]).query)
    assert asked["redirect_uri"] == ["https://chronik.example/console/oidc/callback"]
    assert "secure" in started.headers["set-cookie"].lower()


async def test_the_discovery_document_is_read_once_for_many_sign_ins(
    browser: httpx.AsyncClient, issuer: Issuer
) -> None:
    await asyncio.gather(*(browser.get("/console/oidc/start") for _ in range(5)))
    assert issuer.discovered == 1


async def test_a_code_the_issuer_refuses_to_exchange_signs_nothing_in(
    browser: httpx.AsyncClient, issuer: Issuer
) -> None:
    _, onward = await _to_issuer_and_back(browser)
    issuer.codes.clear()
    refused = await browser.get(onward)
    assert refused.status_code == 401
    assert "the issuer refused the code: invalid_grant" in refused.text
    assert browser.cookies.get("chronik_console") is None


async def test_a_finished_sign_in_cannot_be_finished_again(browser: httpx.AsyncClient) -> None:
    _, onward = await _to_issuer_and_back(browser)
    assert (await browser.get(onward)).status_code == 303
    browser.cookies.delete("chronik_console")
    again = await browser.get(onward)
    assert again.status_code == 400 and "stale or was not started here" in again.text


async def test_a_token_too_large_for_a_cookie_is_refused_with_a_page_that_says_so(
    browser: httpx.AsyncClient, issuer: Issuer
) -> None:
    issuer.claims = {"groups": ["g" * 100] * 40}
    _, onward = await _to_issuer_and_back(browser)
    refused = await browser.get(onward)
    assert refused.status_code == 401 and "too large for a cookie" in refused.text
    assert browser.cookies.get("chronik_console") is None
