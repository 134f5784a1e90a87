"""The console under ``/console/``: server-rendered pages for operators over the same
services as the APIs, with the same permissions (see :mod:`.session` for how a session and
its forms are checked). The pages work without JavaScript; htmx (shipped in the package)
only makes links and forms swap the page in place."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from chronik.api.console import (
    actions,
    editor,
    events,
    flows,
    jobs,
    overview,
    runs,
    signin,
    tokens,
    views,
    webhooks,
)
from chronik.api.console.session import PREFIX

router = APIRouter(prefix=PREFIX, include_in_schema=False)
for area in (signin, overview, views, jobs, events, tokens, webhooks, editor, actions, runs, flows):
    router.include_router(area.router)


def install(app: FastAPI) -> None:
    app.mount(
        f"{PREFIX}/static",
        StaticFiles(packages=[("chronik.api.console", "static")]),
        name="console-static",
    )
    app.include_router(router)
