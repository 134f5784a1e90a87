"""The console under ``/console/``: server-rendered pages for operators over the same
services as the APIs, with the same permissions (see :mod:`.session` for how a session and
its forms are checked). The pages work without JavaScript; htmx (shipped in the package)
only makes links and forms swap the page in place."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from chronik.api.console import (
    actions,
    editor,
    events,
    flows,
    jobs,
    oidc,
    overview,
    runs,
    schedules,
    signin,
    tail,
    tokens,
    views,
    webhooks,
)
from chronik.api.console.session import PREFIX, message
from chronik.auth.provider import Provider
from chronik.settings import Settings

router = APIRouter(prefix=PREFIX, include_in_schema=False)
# The tail before the events: /events/tail is not an event's locator.
areas = (signin, oidc, overview, views, schedules, jobs, tail, events, tokens, webhooks)
# The editor before the actions: /actions/new and /actions/check are not actions' ids.
for area in (*areas, editor, actions, runs, flows):
    router.include_router(area.router)


def install(app: FastAPI, settings: Settings) -> None:
    configured = settings.oidc_issuer and settings.console_oidc_client_id
    app.state.console_oidc = Provider(settings) if configured else None
    app.mount(
        f"{PREFIX}/static",
        StaticFiles(packages=[("chronik.api.console", "static")]),
        name="console-static",
    )
    app.include_router(router)


def serves(path: str) -> bool:
    """Whether ``path`` is one of the console's pages (whose errors are pages too)."""
    return (path == PREFIX or path.startswith(f"{PREFIX}/")) and not path.startswith(
        f"{PREFIX}/static/"
    )


def error_page(request: Request, status: int, text: str) -> Response:
    """An error the app's handlers caught on a console page (a malformed parameter, an
    unknown path), as the console's own page rather than another surface's JSON."""
    return message(request, None, status, text)
