"""What every console page shares: the session, the CSRF check, the page frame and
the answers that refuse.

The console under ``/console/``: server-rendered pages for operators over the same
services as the APIs, with the same permissions.

A session is the caller's bearer token (a Chronik token, or the OIDC issuer's access token:
see :mod:`.oidc`) in an HttpOnly, SameSite=Strict cookie scoped to ``/console`` (under the
root path), checked on every request as a bearer token is; every form that changes
something carries a CSRF token (an HMAC of the session under a secret the database keeps,
so every node agrees), and a POST without the right one is refused with 403 before anything
is read. Pages show only what the token's roles allow: a role that cannot write sees no form
that writes. The pages work without JavaScript; htmx (shipped in the package) only makes
links and forms swap the page in place.
"""

from __future__ import annotations

import hashlib
import hmac
import urllib.parse
from dataclasses import dataclass
from typing import Any

import jinja2
from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import RedirectResponse, Response

from chronik.api.http import services
from chronik.auth import permissions as p
from chronik.auth.principal import Principal
from chronik.errors import Unauthenticated

PREFIX = "/console"
OWNER = "IAM_OWNER"
COOKIE = "chronik_console"
FORM_BYTES = 64 * 1024
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.PackageLoader("chronik.api.console", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
)


@dataclass(frozen=True, slots=True)
class Can:
    """What the caller's roles allow the pages to show."""

    views: bool
    write: bool
    """Act on views (``iam.write``)."""
    jobs: bool = False
    jobs_write: bool = False
    """Act on schedules' failed jobs (``events.write``, as the schedules API)."""
    tokens: bool = False
    """Manage the tenant's tokens (the ``IAM_OWNER`` role, as the tokens API)."""

    @classmethod
    def of(cls, caller: Principal) -> Can:
        granted = caller.permissions
        return cls(
            views=p.IAM_READ in granted,
            write=p.IAM_WRITE in granted,
            jobs=p.EVENTS_READ in granted,
            jobs_write=p.EVENTS_WRITE in granted,
            tokens=OWNER in caller.roles,
        )


@dataclass(frozen=True, slots=True)
class Session:
    caller: Principal
    token: str
    csrf: str


def same(given: str, expected: str) -> bool:
    """Whether ``given`` is ``expected``, compared in constant time (as bytes: the ``str``
    comparison raises on a character that is not ASCII, which anyone can send)."""
    return hmac.compare_digest(given.encode(), expected.encode())


async def csrf_of(request: Request, token: str) -> str:
    key = await services(request).db.secret("console-csrf")
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


async def session_of(request: Request) -> Session | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        caller = await services(request).authenticator.authenticate(f"Bearer {token}")
    except Unauthenticated:
        return None
    return Session(caller, token, await csrf_of(request, token))


def page(
    request: Request,
    template: str,
    title: str,
    session: Session | None,
    status: int = 200,
    **context: Any,
) -> Response:
    response = templates.TemplateResponse(
        request,
        template,
        {
            "title": title,
            "root": request.scope.get("root_path", ""),
            "caller": session.caller if session else None,
            "csrf": session.csrf if session else "",
            "can": Can.of(session.caller) if session else Can(False, False),
            **context,
        },
        status_code=status,
    )
    response.headers.update(HEADERS)
    return response


def set_cookie(
    request: Request,
    response: Response,
    name: str,
    value: str,
    *,
    path: str = PREFIX,
    max_age: int | None = None,
) -> None:
    """Set a console cookie as every one is: HttpOnly, SameSite=Strict, ``Secure`` when
    browsers reach the console over HTTPS, and scoped to ``path`` under the root path."""
    public = services(request).settings.console_public_url
    secure = request.url.scheme == "https" or public.startswith("https:")
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=f"{request.scope.get('root_path', '')}{path}",
        httponly=True,
        samesite="strict",
        secure=secure,
    )


def clear_cookie(request: Request, response: Response, name: str, *, path: str = PREFIX) -> None:
    response.delete_cookie(
        name, path=f"{request.scope.get('root_path', '')}{path}", httponly=True, samesite="strict"
    )


def confirm(
    request: Request, session: Session, question: str, action: str, button: str, back: str
) -> Response:
    """The page that asks ``question`` before a mass or destructive change: its button POSTs
    to the console path ``action``, Cancel goes back to the console path ``back``."""
    root = f"{request.scope.get('root_path', '')}{PREFIX}"
    return page(
        request,
        "confirm.html",
        "Confirm",
        session,
        question=question,
        action=f"{root}{action}",
        button=button,
        back=f"{root}{back}",
    )


def to(request: Request, path: str) -> RedirectResponse:
    response = RedirectResponse(f"{request.scope.get('root_path', '')}{PREFIX}{path}", 303)
    response.headers.update(HEADERS)
    return response


def message(request: Request, session: Session | None, status: int, text: str) -> Response:
    return page(
        request,
        "message.html",
        "Refused" if status >= 400 else "Done",
        session,
        status,
        message=text,
        problem=status >= 400,
    )


async def read_form(request: Request) -> dict[str, str] | None:
    """An urlencoded form (the console's only kind); None when it is over 64 KiB."""
    body = await request.body()
    if len(body) > FORM_BYTES:
        return None
    parsed = urllib.parse.parse_qs(body.decode("utf-8", "replace"), max_num_fields=20)
    return {name: values[0] for name, values in parsed.items()}


async def reader(
    request: Request, permission: str, refusal: str
) -> tuple[Session | None, Response | None]:
    """The session of a page that shows what ``permission`` allows; else the answer that
    refuses it (the sign-in page, or 403 with ``refusal``)."""
    session = await session_of(request)
    if session is None:
        return None, to(request, "/sign-in")
    if permission not in session.caller.permissions:
        return None, message(request, session, 403, refusal)
    return session, None


async def writer(
    request: Request, permission: str = p.IAM_WRITE, *, too_large: str = ""
) -> tuple[Session | None, dict[str, str], Response | None]:
    """The session and form of a POST that may change something: signed in, with the right
    CSRF token, holding ``permission``; else the answer that refuses it (nothing done). A
    form over 64 KiB is refused with 413, saying so and then ``too_large``."""
    session = await session_of(request)
    if session is None:
        return None, {}, to(request, "/sign-in")
    form = await read_form(request)
    if form is None:
        over = f"The form is over {FORM_BYTES // 1024} KiB. {too_large}".strip()
        return None, {}, message(request, session, 413, over)
    if not same(form.get("csrf", ""), session.csrf):
        stale = "This form is stale or not ours: reload the page and try again."
        return None, form, message(request, session, 403, stale)
    if permission not in session.caller.permissions:
        return None, form, message(request, session, 403, "Your token may not change this.")
    return session, form, None
