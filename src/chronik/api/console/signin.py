"""Signing in with a Chronik token (kept in the session cookie) and out."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from starlette.responses import Response

from chronik.api.console.session import (
    COOKIE,
    PREFIX,
    message,
    page,
    read_form,
    session_of,
    to,
)
from chronik.api.http import services
from chronik.errors import Unauthenticated

router = APIRouter()


@router.get("/")
async def home(request: Request) -> Response:
    return to(request, "/overview" if await session_of(request) else "/sign-in")


@router.get("/sign-in")
async def sign_in_page(request: Request) -> Response:
    return page(request, "sign_in.html", "Sign in", None, problem="")


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    token = (await read_form(request)).get("token", "").strip()
    try:
        await services(request).authenticator.authenticate(f"Bearer {token}")
    except Unauthenticated:
        return page(
            request,
            "sign_in.html",
            "Sign in",
            None,
            401,
            problem="That token is not valid (or no longer).",
        )
    response = to(request, "/overview")
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path=PREFIX,
    )
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    session = await session_of(request)
    form = await read_form(request)
    if session is not None and not hmac.compare_digest(form.get("csrf", ""), session.csrf):
        return message(request, session, 403, "This form is stale or not ours.")
    response = to(request, "/sign-in")
    response.delete_cookie(COOKIE, path=PREFIX, httponly=True, samesite="strict")
    return response
