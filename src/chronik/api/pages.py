"""The pages a browser opens: a landing page at ``/`` and the API documentation (Swagger UI
at ``/docs``, ReDoc at ``/redoc``).

The documentation's scripts, styles and favicon come from the pinned ``fastapi-offline``
package and are served under ``/assets/docs``, so the pages work where no other host can be
reached; the landing page is a Jinja2 template, as the console's pages will be.
"""

from __future__ import annotations

import jinja2
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

ASSETS = "/assets/docs"
CONSOLE = "/console"
CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
    )
)
"""What the pages may load: only the server's own assets (and what they build inline). ReDoc
shows its maker's logo from the maker's host, unless the browser is told not to fetch it."""

templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.PackageLoader("chronik.api", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
)


def install(app: FastAPI) -> None:
    """Add the landing page, the two documentation pages and their assets to ``app`` (made
    with ``docs_url=None, redoc_url=None``, so that FastAPI's CDN pages stay out)."""
    app.mount(ASSETS, StaticFiles(packages=[("fastapi_offline", "static")]), name="docs-assets")

    @app.get("/", include_in_schema=False)
    async def landing(request: Request) -> HTMLResponse:
        has_console = any(
            getattr(route, "path", "").startswith(CONSOLE) for route in request.app.routes
        )
        return _own_assets_only(
            templates.TemplateResponse(
                request,
                "landing.html",
                {
                    "title": app.title,
                    "version": app.version,
                    "root": request.scope.get("root_path", ""),
                    "assets": ASSETS,
                    "console": CONSOLE if has_console else None,
                },
            )
        )

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _own_assets_only(
            get_swagger_ui_html(
                openapi_url=f"{root}/openapi.json",
                title=f"{app.title} API (Swagger UI)",
                swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
                swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
                swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
                # No validator badge: Swagger UI would fetch it from validator.swagger.io.
                swagger_ui_parameters={"validatorUrl": None},
            )
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _own_assets_only(
            get_redoc_html(
                openapi_url=f"{root}/openapi.json",
                title=f"{app.title} API (ReDoc)",
                redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
                redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
                with_google_fonts=False,
            )
        )


def _own_assets_only(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CSP
    return page
