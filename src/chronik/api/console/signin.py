"""Signing in with a Chronik token (kept in the session cookie) and out; the sign-in page
also offers the OIDC issuer when the console is its client (see :mod:`.oidc`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from chronik.api.console.session import (
    COOKIE,
    clear_cookie,
    message,
    page,
    read_form,
    same,
    session_of,
    set_cookie,
    to,
)
from chronik.api.http import services
from chronik.auth.provider import Provider
from chronik.errors import Unauthenticated

router = APIRouter()


@router.get("/")
async def home(request: Request) -> Response:
    return to(request, "/overview" if await session_of(request) else "/sign-in")


def provider_of(request: Request) -> Provider | None:
    """The OIDC issuer the console signs in with, if it is configured as its client."""
    provider: Provider | None = request.app.state.console_oidc
    return provider


def sign_in_form(request: Request, status: int = 200, problem: str = "") -> Response:
    """The sign-in page, saying ``problem`` when there is one."""
    provider = provider_of(request)
    oidc = provider.host if provider else ""
    return page(request, "sign_in.html", "Sign in", None, status, problem=problem, oidc=oidc)


@router.get("/sign-in")
async def sign_in_page(request: Request) -> Response:
    return sign_in_form(request)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    token = ((await read_form(request)) or {}).get("token", "").strip()
    try:
        await services(request).authenticator.authenticate(f"Bearer {token}")
    except Unauthenticated:
        return sign_in_form(request, 401, "That token is not valid (or no longer).")
    response = to(request, "/overview")
    set_cookie(request, response, COOKIE, token)
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    session = await session_of(request)
    form = await read_form(request) or {}
    if session is not None and not same(form.get("csrf", ""), session.csrf):
        return message(request, session, 403, "This form is stale or not ours.")
    response = to(request, "/sign-in")
    clear_cookie(request, response, COOKIE)
    return response
