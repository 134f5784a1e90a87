"""The console under ``/console/``: server-rendered pages for operators over the same
services as the APIs, with the same permissions (see :mod:`.session` for how a session and
its forms are checked). The pages work without JavaScript; htmx (shipped in the package)
only makes links and forms swap the page in place."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from chronik.api.console import (
    events,
    jobs,
    oidc,
    overview,
    schedules,
    signin,
    tokens,
    views,
    webhooks,
)
from chronik.api.console.session import PREFIX
from chronik.auth.provider import Provider
from chronik.settings import Settings

router = APIRouter(prefix=PREFIX, include_in_schema=False)
for area in (signin, oidc, overview, views, schedules, jobs, events, tokens, webhooks):
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
