"""Liveness, readiness and metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from chronik.api.http import JSON, services
from chronik.errors import ChronikError
from chronik.storage import queries

router = APIRouter(tags=["health"])

READY_SECONDS = 0.8
"""How long ``/readyz`` waits for the database: a probe gets its answer while the database
is unreachable (a request would wait up to the pool's 30 s)."""


@router.get("/healthz", summary="The process is up")
async def healthz() -> JSON:
    return JSON({"status": "ok"})


@router.get("/readyz", summary="The database is reachable and its schema is current")
async def readyz(request: Request) -> JSON:
    db = services(request).db
    package = type(db).__module__.rsplit(".", 1)[0]
    latest = queries.migrations(package)[-1][0]
    state = request.app.state
    check: asyncio.Future[int] | None = getattr(state, "readiness_check", None)
    if check is None or check.done():
        # One check in flight at a time, left to finish when a probe stops waiting for it:
        # cancelling a query makes the driver try to cancel it on the server, which waits
        # for an unreachable server too.
        check = state.readiness_check = asyncio.ensure_future(db.schema_version())
        check.add_done_callback(_retrieve)
    try:
        version = await asyncio.wait_for(asyncio.shield(check), READY_SECONDS)
    except TimeoutError:
        reason = f"the database did not answer within {READY_SECONDS} s"
        return JSON({"status": "unavailable", "reason": reason}, status_code=503)
    except ChronikError as exc:
        return JSON({"status": "unavailable", "reason": exc.message}, status_code=503)
    if version != latest:
        return JSON(
            {"status": "unavailable", "reason": f"schema version {version}, expected {latest}"},
            status_code=503,
        )
    return JSON({"status": "ok", "schemaVersion": version})


def _retrieve(check: asyncio.Future[int]) -> None:
    """Take the outcome of a check no probe waited for, so asyncio does not log it."""
    if not check.cancelled():
        check.exception()


@router.get("/metrics", summary="Prometheus metrics")
async def metrics(request: Request) -> Response:
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
