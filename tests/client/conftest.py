"""Fixtures of the remote client's tests: the app served by uvicorn on loopback (real HTTP),
on each backend, and tokens of the test's tenant."""

from __future__ import annotations

import pytest

from chronik.services import Chronik
from tests.api.conftest import app, database_url, web
from tests.api.helpers import bearer

__all__ = ["app", "database_url", "web"]


async def token(chronik: Chronik, tenant: str, *roles: str) -> str:
    header = await bearer(chronik, tenant, *roles)
    return header["Authorization"].removeprefix("Bearer ")


@pytest.fixture
async def owner_token(chronik: Chronik, tenant: str) -> str:
    return await token(chronik, tenant, "IAM_OWNER")
