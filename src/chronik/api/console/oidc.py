"""Signing in to the console with the OIDC issuer: the authorization code flow with PKCE
(S256), for the client ``console_oidc_client_id``. The session it ends in is the issuer's
access token, checked on every request as a bearer token of the API is (tenant, roles,
audience), so it ends when that token expires.

Every console cookie is SameSite=Strict, and a browser sends none on the issuer's redirect
back, a cross-site navigation. So the flow takes three steps here:

1. ``/console/oidc/start`` sets the flow cookie (10 minutes, ``Path=/console/oidc``) and
   sends the browser to the issuer's authorization endpoint.
2. ``/console/oidc/callback``, the redirect URI, where the issuer sends the browser back,
   reads and sets nothing: it answers a page whose ``<meta http-equiv="refresh">`` moves on
   to ``finish`` with the same query. That navigation starts from our own page, so it is
   same-site and carries the flow cookie.
3. ``/console/oidc/finish`` checks the state against the flow cookie, exchanges the code,
   checks the access token and sets the session cookie to it; it clears the flow cookie
   whatever the outcome. The issuer's error (``access_denied``…) is shown only to the
   browser whose flow it ends.

The flow cookie holds the state, the time it was made and an HMAC of both under a secret the
database keeps (so any node may finish what another started, and the time cannot be moved).
The PKCE verifier and the nonce are kept nowhere: each is an HMAC of the state under the
same secret, so only the server can compute them, and the verifier leaves it only for the
token endpoint. The cookie thus carries nothing the browser does not see in the URL anyway.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import urllib.parse

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from chronik.api.console.session import (
    COOKIE,
    HEADERS,
    PREFIX,
    clear_cookie,
    page,
    same,
    set_cookie,
    to,
)
from chronik.api.console.signin import provider_of, sign_in_form
from chronik.api.http import services
from chronik.errors import ChronikError, Unauthenticated

router = APIRouter()

FLOW_COOKIE = "chronik_console_oidc"
FLOW_PATH = f"{PREFIX}/oidc"
FLOW_SECONDS = 600
"""How long a sign-in may stay at the issuer."""
_SECRET = "console-oidc"
COOKIE_BYTES = 4000
"""The longest access token a session cookie holds (browsers keep cookies up to 4096 bytes,
name and attributes included)."""


def _encode(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


async def _derived(request: Request, purpose: str, text: str) -> str:
    """An HMAC of ``text`` for ``purpose`` under the database's secret: 43 URL-safe
    characters (a valid PKCE verifier)."""
    key = await services(request).db.secret(_SECRET)
    return _encode(hmac.new(key, f"{purpose}:{text}".encode(), hashlib.sha256).digest())


def redirect_uri(request: Request) -> str:
    """The URI to register at the issuer: under ``console_public_url`` when it is set, else
    under the URL this request came to (with its root path)."""
    public = services(request).settings.console_public_url.rstrip("/")
    base = public or str(request.base_url).rstrip("/")
    return f"{base}{PREFIX}/oidc/callback"


@router.get("/oidc/start")
async def start(request: Request) -> Response:
    """Begin a sign-in: bind the flow to this browser, then off to the issuer."""
    provider = provider_of(request)
    if provider is None:
        return sign_in_form(request, 404, "Signing in with OIDC is not configured.")
    state = secrets.token_urlsafe(32)
    issued = str(int(time.time()))
    try:
        target = await provider.authorization_url(
            redirect_uri=redirect_uri(request),
            state=state,
            nonce=await _derived(request, "nonce", state),
            verifier=await _derived(request, "verifier", state),
        )
    except ChronikError as exc:
        problem = f"Signing in with {provider.host} is not possible now: {exc.message}"
        return sign_in_form(request, exc.http_status, problem)
    response = RedirectResponse(target, 303)
    response.headers.update(HEADERS)
    flow = f"{issued}.{state}.{await _derived(request, 'flow', f'{issued}.{state}')}"
    set_cookie(request, response, FLOW_COOKIE, flow, path=FLOW_PATH, max_age=FLOW_SECONDS)
    return response


@router.get("/oidc/callback")
async def callback(request: Request) -> Response:
    """The issuer's redirect back: on to ``finish``, by a same-site navigation."""
    query = urllib.parse.urlencode(
        {
            name: request.query_params[name][:4096]
            for name in ("code", "state", "error", "error_description")
            if name in request.query_params
        }
    )
    root = request.scope.get("root_path", "")
    onward = f"{root}{FLOW_PATH}/finish?{query}"
    return page(request, "oidc_callback.html", "Signing in", None, onward=onward)


async def _flow_state(request: Request) -> str | None:
    """The state of the flow this browser started, if its cookie is ours and fresh."""
    issued, _, rest = request.cookies.get(FLOW_COOKIE, "").partition(".")
    state, _, mac = rest.partition(".")
    if not issued.isdigit() or not state or not mac:
        return None
    expected = await _derived(request, "flow", f"{issued}.{state}")
    if not same(mac, expected):
        return None
    if not 0 <= time.time() - int(issued) <= FLOW_SECONDS:
        return None
    return state


@router.get("/oidc/finish")
async def finish(request: Request) -> Response:
    """End a sign-in: the session cookie set to the access token, or a page that says why
    not (and sets nothing)."""
    response = await _finish(request)
    clear_cookie(request, response, FLOW_COOKIE, path=FLOW_PATH)
    return response


async def _finish(request: Request) -> Response:
    provider = provider_of(request)
    if provider is None:
        return sign_in_form(request, 404, "Signing in with OIDC is not configured.")
    params = request.query_params
    state = await _flow_state(request)
    # The state is checked first, also for an error, so that no page of ours shows the
    # text of a link someone else made up.
    if state is None or not same(params.get("state", ""), state):
        stale = "This sign-in is stale or was not started here: sign in again."
        return sign_in_form(request, 400, stale)
    if "error" in params:
        said = params["error"][:200]
        described = params.get("error_description", "")[:500]
        problem = f"{provider.host} did not sign you in: {said}"
        return sign_in_form(request, 400, f"{problem} ({described})" if described else problem)
    try:
        token = await provider.exchange(
            code=params.get("code", ""),
            redirect_uri=redirect_uri(request),
            verifier=await _derived(request, "verifier", state),
            nonce=await _derived(request, "nonce", state),
        )
        if token.count(".") != 2:
            raise Unauthenticated(
                "its access token is not a JWT (have the application issue JWT access tokens)"
            )
        if len(token) > COOKIE_BYTES:
            # A browser drops a larger cookie without a word: the sign-in would loop.
            raise Unauthenticated(
                f"its access token ({len(token)} bytes) is too large for a cookie "
                f"(at most {COOKIE_BYTES}): ask for fewer scopes or roles"
            )
        await services(request).authenticator.authenticate(f"Bearer {token}")
    except ChronikError as exc:
        problem = f"Signing in with {provider.host} failed: {exc.message}"
        return sign_in_form(request, exc.http_status, problem)
    response = to(request, "/overview")
    set_cookie(request, response, COOKIE, token)
    return response
