"""The ASGI application: the three surfaces, health, metrics, OpenAPI and its pages on one
core."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chronik.api import console, errors, health, pages
from chronik.api.http import JSON
from chronik.api.metrics import Metrics
from chronik.api.rpc import grpcweb
from chronik.api.schemas import ZitadelError, answers
from chronik.errors import ChronikError, ResourceExhausted, Unauthenticated
from chronik.services import Chronik
from chronik.settings import Settings
from chronik.views import Registry, installed

log = logging.getLogger("chronik.api")

_STATUS_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 409: 6, 413: 8, 415: 3, 422: 3}


def _error(
    request: Request, status: int, grpc: int, message: str, details: dict[str, Any] | None = None
) -> Response:
    if console.serves(request.url.path):
        return console.error_page(request, status, message)
    surface = errors.surface_of(request.url.path)
    return JSON(errors.body(surface, status, grpc, message, details or {}), status_code=status)


def _chronik_error(request: Request, exc: ChronikError) -> Response:
    if console.serves(request.url.path):
        return console.error_page(request, exc.http_status, exc.message)
    surface = errors.surface_of(request.url.path)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthenticated) else None
    status = errors.http_status(surface, exc.http_status, exc.grpc_code)
    return JSON(errors.error_body(surface, exc), status_code=status, headers=headers)


def _unexpected(request: Request) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return _error(request, 500, 13, "internal error; the server log has the details")


class App(FastAPI):
    """FastAPI with one short cut: ``POST /v1/events``, the busiest request, goes straight
    to its handler through the app's own request metrics and body limit, past FastAPI's
    and Starlette's middleware and routing (about a third of a request's CPU). Its
    answers, errors included, are those of the route the app also mounts."""

    hot: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.hot is not None
            and scope["type"] == "http"
            and scope["path"] == "/v1/events"
            and scope["method"] == "POST"
            and not scope.get("root_path")
        ):
            scope["app"] = self
            await self.hot(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _endpoint(route: Route) -> ASGIApp:
    """``route``'s handler as a bare ASGI app, its errors answered as the app answers them."""
    handler = route.endpoint

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = route
        request = Request(scope, receive)
        try:
            response = await handler(request)
        except ChronikError as exc:
            response = _chronik_error(request, exc)
        except ClientDisconnect:
            raise
        except Exception:
            response = _unexpected(request)
        await response(scope, receive, send)

    return endpoint


def create_app(
    settings: Settings, *, chronik: Chronik | None = None, views: Registry | None = None
) -> FastAPI:
    """The app. Without ``chronik`` it opens one for ``settings`` in its lifespan, runs its
    views (``views``, by default those of the installed packages' entry points) and closes
    it after the in-flight appends have committed; tests pass one in."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if chronik is not None:
            app.state.chronik = chronik
            async with _grpc(settings, chronik):
                yield
            return
        opened = await Chronik.open(
            settings, views=views if views is not None else installed(settings.views)
        )
        try:
            opened.start_views()
            opened.start_scheduler()
            opened.start_webhooks()
            app.state.chronik = opened
            async with _grpc(settings, opened):
                yield
        finally:
            await opened.close()

    app = App(
        title="Chronik",
        version="0.1.0",
        description="Event log, views, schedules and actions: ZITADEL- and Socotra-compatible "
        "surfaces and a native API.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    if chronik is not None:
        app.state.chronik = chronik
    app.state.metrics = Metrics(app)

    @app.exception_handler(ChronikError)
    async def chronik_error(request: Request, exc: ChronikError) -> Response:
        return _chronik_error(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]
        )
        return _error(request, 400, 3, f"invalid request: {problems}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        grpc = _STATUS_CODES.get(exc.status_code, 2)
        return _error(request, exc.status_code, grpc, str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        return _unexpected(request)

    app.include_router(health.router)
    pages.install(app)
    console.install(app)
    from chronik.api import (
        native,
        native_actions,
        native_groups,
        native_schedules,
        native_tokens,
        native_views,
        native_webhooks,
        socotra_events,
        socotra_schedules,
        socotra_webhooks,
        subscriptions,
    )
    from chronik.api.rpc import gateway

    app.include_router(socotra_schedules.router)
    app.include_router(socotra_events.router)
    app.include_router(socotra_webhooks.router)
    app.include_router(socotra_webhooks.diverted)
    app.include_router(subscriptions.router)
    app.include_router(native.router)
    app.include_router(native_views.router)
    app.include_router(native_schedules.router)
    app.include_router(native_actions.router)
    app.include_router(native_tokens.router)
    app.include_router(native_webhooks.router)
    app.include_router(native_groups.router)
    # The busiest routes are also mounted as plain Starlette routes in front of FastAPI's
    # (which stay for the OpenAPI document): FastAPI's per-request work (included-router
    # matching, dependency solving, two exit stacks) cost more CPU than the append itself.
    # ZITADEL's routes are plain ones only, read from the protos (their OpenAPI too).
    app.router.routes[0:0] = [*native.plain_routes, *gateway.routes()]
    app.router.routes[0:0] = grpcweb.routes()
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(RequestMetrics, metrics=app.state.metrics)
    append_route = next(r for r in native.plain_routes if r.path == "/v1/events")
    app.hot = RequestMetrics(
        BodyLimit(_endpoint(append_route), limit=settings.max_body_bytes), app.state.metrics
    )
    return app


@asynccontextmanager
async def _grpc(settings: Settings, chronik: Chronik) -> AsyncIterator[None]:
    """ZITADEL's gRPC services on ``settings.grpc_port`` while the app runs (none when it is
    not set), over the app's own services and in its event loop."""
    if settings.grpc_port is None:
        yield
        return
    from chronik.api.rpc import server

    running = await server.start(
        chronik,
        settings.listen_host,
        settings.grpc_port,
        max_message_bytes=settings.max_body_bytes,
    )
    log.info("serving gRPC on %s:%d", settings.listen_host, running.port)
    try:
        yield
    finally:
        await running.stop()


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, told the truth: bearer tokens guard the API routes, and invalid
    input answers 400 in the surface's format (FastAPI would announce 422)."""
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    schema.setdefault("components", {})["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer"}
    }
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
            if path not in _OPEN_PATHS:
                operation["security"] = [{"bearer": []}]
    if path_metrics := schema["paths"].get("/metrics", {}).get("get"):
        path_metrics["responses"]["200"]["content"] = {"text/plain": {"schema": {"type": "string"}}}
    from chronik.api.rpc import openapi

    error = {"$ref": "#/components/schemas/ZitadelError"}
    declared = answers(None, ZitadelError, 404, 409)
    rpc_paths, rpc_schemas = openapi.describe(
        {
            str(status): {
                "description": d["description"],
                "content": {"application/json": {"schema": error}},
            }
            for status, d in declared.items()
        }
    )
    schema["paths"].update(rpc_paths)
    schema["components"]["schemas"].update(
        {**rpc_schemas, "ZitadelError": ZitadelError.model_json_schema()}
    )
    for operations in rpc_paths.values():
        for operation in operations.values():
            operation["security"] = [{"bearer": []}]
    schema["components"]["schemas"].pop("HTTPValidationError", None)
    schema["components"]["schemas"].pop("ValidationError", None)
    app.openapi_schema = schema
    return schema


_OPEN_PATHS = {"/healthz", "/readyz", "/metrics"}


class BodyLimit:
    """Refuse bodies over the limit with 413 in the surface's own error format (a gRPC-web
    call: ``RESOURCE_EXHAUSTED``), before a handler reads them; a body without a
    Content-Length is cut off at the limit too."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            surface = errors.surface_of(scope["path"])
            too_large = ResourceExhausted(
                f"the request body is larger than {self.limit} bytes", limit=self.limit
            )
            if grpcweb.speaks(scope):
                await grpcweb.refuse(too_large, scope, send)
                return
            status = errors.http_status(surface, too_large.http_status, too_large.grpc_code)
            response = JSON(errors.error_body(surface, too_large), status_code=status)
            await response(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise ResourceExhausted(
                        f"the request body is larger than {self.limit} bytes", limit=self.limit
                    )
            return message

        await self.app(scope, limited, send)


CLIENT_CLOSED = 499
"""The status counted for a request whose client went away before it was answered (nginx's
code): not a server error, and nothing to answer or log."""


class RequestMetrics:
    """Counts requests by route template and status, and times them; a request whose client
    disconnected while its body was read counts as 499 and ends quietly."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except ClientDisconnect:
            status = CLIENT_CLOSED
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or _plain_route(scope) or "unmatched"
            self.metrics.observe(scope["method"], template, status, time.perf_counter() - started)


def _plain_route(scope: Scope) -> str | None:
    """The path of a plain Starlette route (``/openapi.json``, ``/docs``): those tell only
    their endpoint, not themselves, in the scope."""
    endpoint = scope.get("endpoint")
    if endpoint is None:
        return None
    for route in getattr(scope.get("app"), "routes", ()):
        if getattr(route, "endpoint", None) is endpoint:
            path: str = route.path
            return path
    return None
