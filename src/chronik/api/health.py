"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from chronik.api.http import JSON, services
from chronik.errors import ChronikError
from chronik.storage import queries

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> JSON:
    return JSON({"status": "ok"})


@router.get("/readyz", summary="The database is reachable and its schema is current")
async def readyz(request: Request) -> JSON:
    db = services(request).db
    package = type(db).__module__.rsplit(".", 1)[0]
    latest = queries.migrations(package)[-1][0]
    try:
        version = await db.schema_version()
    except ChronikError as exc:
        return JSON({"status": "unavailable", "reason": exc.message}, status_code=503)
    if version != latest:
        return JSON(
            {"status": "unavailable", "reason": f"schema version {version}, expected {latest}"},
            status_code=503,
        )
    return JSON({"status": "ok", "schemaVersion": version})


@router.get("/metrics", summary="Prometheus metrics")
async def metrics(request: Request) -> Response:
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
