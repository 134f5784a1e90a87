"""Fixtures of the remote client's tests: the app served by uvicorn on loopback (real HTTP),
on SQLite (a surface), and tokens of the test's tenant."""

from __future__ import annotations

import pytest

from chronik.services import Chronik
from tests.api.conftest import app, web
from tests.api.helpers import bearer
from tests.conftest import surface_backend

backend = surface_backend()  # the contract suite covers storage on both backends

__all__ = ["app", "web"]


async def token(chronik: Chronik, tenant: str, *roles: str) -> str:
    header = await bearer(chronik, tenant, *roles)
    return header["Authorization"].removeprefix("Bearer ")


@pytest.fixture
async def owner_token(chronik: Chronik, tenant: str) -> str:
    return await token(chronik, tenant, "IAM_OWNER")
