"""Fixtures of the HTTP suite: the app on each backend, a client, tokens per role, a
second tenant with its own token, and the app served on loopback with a client of each
transport of the ZITADEL RPCs."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from grpc import aio
from sonora import aio as sonora_aio

from chronik.api import create_app
from chronik.api.rpc import server
from chronik.services import Chronik
from chronik.settings import Settings
from tests.api.helpers import OTHER_ORG, Headers, bearer
from tests.api.transports import Clients, Stubbable


@pytest.fixture
def app(settings: Settings, chronik: Chronik) -> FastAPI:
    return create_app(settings, chronik=chronik)


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture
async def web(app: FastAPI) -> AsyncIterator[str]:
    """The app served by uvicorn on a free loopback port, in this test's event loop; its
    base URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    served = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
    task = asyncio.create_task(served.serve(sockets=[listener]))
    while not served.started:
        assert not task.done(), "uvicorn stopped before it started"
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        served.should_exit = True
        await task
        listener.close()


@pytest.fixture
async def clients(web: str, chronik: Chronik, settings: Settings) -> AsyncIterator[Clients]:
    """A client of each transport (JSON, gRPC, gRPC-web) of one app over ``chronik``: the
    app served by uvicorn, its gRPC server on a free port."""
    running = await server.start(chronik, "127.0.0.1", 0, max_message_bytes=settings.max_body_bytes)
    try:
        async with (
            httpx.AsyncClient(base_url=web, timeout=30.0) as http,
            aio.insecure_channel(f"127.0.0.1:{running.port}") as channel,
            sonora_aio.insecure_web_channel(web) as web_channel,
        ):
            yield Clients(http, channel, Stubbable(web_channel))
    finally:
        await running.stop(0)


@pytest.fixture
async def owner(chronik: Chronik, tenant: str) -> Headers:
    """IAM_OWNER of ``tenant``: may do everything."""
    return await bearer(chronik, tenant, "IAM_OWNER")


@pytest.fixture
async def viewer(chronik: Chronik, tenant: str) -> Headers:
    return await bearer(chronik, tenant, "IAM_OWNER_VIEWER")


@pytest.fixture
async def reader(chronik: Chronik, tenant: str) -> Headers:
    return await bearer(chronik, tenant, "EVENTS_READER")


@pytest.fixture
async def writer(chronik: Chronik, tenant: str) -> Headers:
    return await bearer(chronik, tenant, "EVENTS_WRITER")


@pytest.fixture
async def org_owner(chronik: Chronik, tenant: str) -> Headers:
    return await bearer(chronik, tenant, "ORG_OWNER")


@pytest.fixture
async def org_viewer(chronik: Chronik, tenant: str) -> Headers:
    return await bearer(chronik, tenant, "ORG_OWNER_VIEWER")


@pytest.fixture
async def stranger(chronik: Chronik, other_tenant: str) -> Headers:
    """IAM_OWNER of the other tenant: may do everything, but only there."""
    return await bearer(chronik, other_tenant, "IAM_OWNER", organisation_id=OTHER_ORG)
