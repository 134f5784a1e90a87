"""The contract suite runs on a third backend besides SQLite and PostgreSQL: ``placed``,
tenants spread over two PostgreSQL databases behind a directory (the first tenant a test
creates lands in one, the second in the other), so that every behaviour the suite holds
the backends to also holds when a tenant's rows live in a database of their own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.conftest import BACKENDS, _reset_postgres, own_database

from chronik.settings import Settings

PLACED_MODULES = {
    "test_append",
    "test_follow",
    "test_views",
    "test_schedules",
    "test_webhooks",
    "test_groups",
    "test_actions",
    "test_tokens",
}
"""The modules of the storage ports that route by tenant (schema, migration and plan tests
are about one database's SQL). A test marked ``one_database`` holds for tenants sharing a
database only (it says why)."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" not in metafunc.fixturenames:
        return
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    placed = (
        ["placed"]
        if "postgres" in BACKENDS
        and module in PLACED_MODULES
        and not metafunc.definition.get_closest_marker("one_database")
        else []
    )
    metafunc.parametrize("backend", [*BACKENDS, *placed], indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", BACKENDS[0]))


@pytest.fixture(scope="session")
def tenant_databases() -> Iterator[tuple[str, str]]:
    with own_database("chronik_place_a") as a, own_database("chronik_place_b") as b:
        yield a, b


@pytest.fixture
def settings(backend: str, database_url: str, request: pytest.FixtureRequest) -> Settings:
    if backend != "placed":
        return Settings(database_url=database_url, follow_poll_seconds=0.05)
    places: tuple[str, str] = request.getfixturevalue("tenant_databases")
    for url in places:
        _reset_postgres(url)
    return Settings(
        database_url=database_url,
        tenant_databases=places,
        follow_poll_seconds=0.05,
        placement_cache_seconds=0.2,
    )
