"""Schemathesis against the app's own OpenAPI document: every operation, with generated valid
and invalid input, never answers 5xx and answers what its schema declares; without a token
every API operation answers 401 in its surface's error format.

The app runs in-process on schemathesis' ASGI transport, which drives it from an event loop
thread of its own. So the app opens its own Chronik in its lifespan, on the test's database,
rather than sharing the test's (whose event loop is not the one the requests run on); the
test's Chronik only seeds the log and issues the token before the first request.

Both backends, every operation on each, and on each every case of schemathesis' coverage
phase (the boundary values and unexpected methods the schema defines). PostgreSQL gets
fewer generated cases than SQLite (:data:`EXAMPLES`): most of what the generated cases check
is the schema, which does not depend on the backend, and checking as many per operation there as
well took most of the suite's longest test. Both tests are marked ``slow`` so that they
start first.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.python import asgi
from schemathesis.specs.openapi.schemas import OpenApiSchema

from chronik.api import create_app
from chronik.records import NewEvent
from chronik.services import Chronik
from chronik.settings import Settings
from tests.api.helpers import ORG, Headers

Case = schemathesis.Case[Any]
EXAMPLES = {"sqlite": 8, "postgres": 2}
"""Generated cases per operation and backend (deterministic); the coverage phase adds its
boundary cases to these on both."""
UNAUTHENTICATED_EXAMPLES = 3
"""Fewer for the token check, and without the coverage phase's boundary values: the answer
cannot depend on the body, only on the route (the methods a path does not have are tried
by the test with a token). It runs on SQLite only: a request without a token is
refused before anything is read from a database."""

OPEN = frozenset({"/healthz", "/readyz", "/metrics"})
"""The operations that answer without a token: the probes and the Prometheus scrape."""


@dataclass(frozen=True)
class Seeded:
    tenant: str
    locators: list[str]
    request_id: str


@pytest.fixture
async def seeded(chronik: Chronik, tenant: str) -> Seeded:
    """Events of two aggregates in two requests, so that searches and the stream find some."""
    first = await chronik.events.append(
        tenant,
        [
            NewEvent(aggregate_type="user", aggregate_id="u-1", type="user.added"),
            NewEvent(
                aggregate_type="user",
                aggregate_id="u-1",
                type="user.changed",
                payload={"name": "Ada"},
                resource_owner=ORG,
            ),
        ],
    )
    second = await chronik.events.append(
        tenant, [NewEvent(aggregate_type="org", aggregate_id="o-1", type="org.added")]
    )
    return Seeded(tenant, [e.locator for e in first + second], first[0].request_id)


def _config(seeded: Seeded, examples: int, *, coverage: str = "all") -> schemathesis.Config:
    """Reproducible runs of ``examples`` generated cases per operation; path parameters mostly
    name the seeded tenant, events and request (otherwise nearly every Socotra call would stop
    at a 404), sometimes anything. ``coverage`` is the coverage phase's part: ``"all"``,
    ``"boundaries"`` without its calls of each path with the methods it does not have (the
    router answers those 405 before any database is read: once, on SQLite, is enough), or
    ``"none"``."""
    phases: dict[str, dict[str, Any]] = {
        "all": {},
        "boundaries": {"unexpected-methods": []},
        "none": {"enabled": False},
    }
    phase = phases[coverage]
    return schemathesis.Config.from_dict(
        {
            "phases": {"coverage": phase},
            "generation": {"max-examples": examples, "deterministic": True, "database": "none"},
            "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
            "dictionaries": {
                "tenants": {"values": [seeded.tenant]},
                "locators": {"values": [*seeded.locators, seeded.request_id]},
            },
            "parameters": {
                "path.tenantLocator": {"dictionary": "tenants", "probability": 0.8},
                "path.locator": {"dictionary": "locators", "probability": 0.5},
            },
        }
    )


@contextmanager
def _schema(
    settings: Settings, seeded: Seeded, examples: int, *, coverage: str = "all"
) -> Iterator[OpenApiSchema]:
    app = create_app(settings)
    config = _config(seeded, examples, coverage=coverage)
    try:
        yield schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    finally:
        # The app's lifespan shutdown: its Chronik closes before the test's database goes.
        asgi.shutdown_lifespans()


@pytest.fixture
def api_schema(settings: Settings, seeded: Seeded, backend: str) -> Iterator[OpenApiSchema]:
    coverage = "all" if backend == "sqlite" else "boundaries"
    with _schema(settings, seeded, EXAMPLES[backend], coverage=coverage) as loaded:
        yield loaded


@pytest.fixture
def unauthenticated_schema(settings: Settings, seeded: Seeded) -> Iterator[OpenApiSchema]:
    with _schema(settings, seeded, UNAUTHENTICATED_EXAMPLES, coverage="none") as loaded:
        yield loaded


# A live subscription that was let in never ends by itself (test_subscribe drives it over a
# real server); its refusals are still fuzzed without a token below.
schema = schemathesis.pytest.from_fixture("api_schema").exclude(path="/v1/events/subscribe")
unauthenticated = schemathesis.pytest.from_fixture("unauthenticated_schema")


# The app runs on a thread of its own while hypothesis draws cases: when psycopg's pool opens a
# connection there, its jitter draws from the global random module, which hypothesis (not
# knowing whose thread it was) reports as a strategy using ``random``.
POOL_JITTER = pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")


@pytest.mark.slow
@POOL_JITTER
@schema.parametrize()
def test_no_operation_fails_on_the_server_or_outside_its_schema(case: Case, owner: Headers) -> None:
    case.call_and_validate(headers=owner, checks=[not_a_server_error, response_schema_conformance])


def _unauthenticated(path: str, body: Any) -> bool:
    """Whether ``body`` is the 401 error of the surface ``path`` belongs to."""
    if path.startswith(("/admin/v1/", "/management/v1/")):
        return isinstance(body, dict) and body.get("code") == 16
    if path.startswith(("/event/", "/config/")):
        return isinstance(body, dict) and body.get("httpStatus") == 401
    return isinstance(body, dict) and body.get("error", {}).get("code") == "UNAUTHENTICATED"


@pytest.mark.slow
@POOL_JITTER
@pytest.mark.parametrize("backend", ["sqlite"])
@unauthenticated.parametrize()
def test_without_a_token_every_api_operation_answers_401(case: Case) -> None:
    case.headers.pop("Authorization", None)
    response = case.call()
    where = (case.as_curl_command(), response.text)
    if case.operation.path in OPEN:
        assert response.status_code == 200, where
    else:
        assert response.status_code == 401, where
        assert _unauthenticated(case.operation.path, response.json()), where


EDGES = [
    # Offsets that carry an instant out of datetime's range when it is made UTC.
    pytest.param(
        "POST",
        "/admin/v1/events/_search",
        {"creationDate": "9999-12-31T23:59:59-12:00"},
        id="creationDate-after-9999-in-utc",
    ),
    pytest.param(
        "POST",
        "/admin/v1/events/_search",
        {"range": {"since": "0001-01-01T00:00:00+12:00"}},
        id="range-since-before-year-1-in-utc",
    ),
    pytest.param(
        "GET",
        "/event/{tenant}/events/list?startTimestamp=0001-01-01T00:00:00%2B12:00",
        None,
        id="startTimestamp-before-year-1-in-utc",
    ),
    # ListEvents' sequence is a uint64; SQLite integers are signed 64-bit.
    pytest.param("POST", "/admin/v1/events/_search", {"sequence": str(2**63)}, id="sequence-2**63"),
    pytest.param(
        "POST",
        "/admin/v1/events/_search",
        {"sequence": str(2**64 - 1), "asc": True},
        id="sequence-uint64-max-asc",
    ),
    # NUL characters, which PostgreSQL text and jsonb cannot hold.
    pytest.param(
        "POST", "/admin/v1/events/_search", {"aggregateId": "a\x00b"}, id="search-nul-filter"
    ),
    pytest.param("GET", "/event/{tenant}/events/list?type=a%00b", None, id="stream-nul-type"),
    pytest.param(
        "POST",
        "/v1/events",
        {"events": [{"aggregateType": "user", "aggregateId": "u\x00", "type": "user.added"}]},
        id="append-nul-aggregate-id",
    ),
    pytest.param(
        "POST",
        "/v1/events",
        {
            "events": [
                {
                    "aggregateType": "user",
                    "aggregateId": "u-9",
                    "type": "user.added",
                    "payload": {"name": "x\x00y"},
                }
            ]
        },
        id="append-nul-in-payload",
    ),
]


@pytest.mark.parametrize(("method", "path", "body"), EDGES)
async def test_edge_inputs_are_answered_without_a_server_error(
    api: httpx.AsyncClient,
    owner: Headers,
    tenant: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    """Inputs at the edges of what the schema allows, which generated cases hit only by
    chance: each is answered (a result or a 4xx in the surface's format), never a 5xx."""
    response = await api.request(method, path.format(tenant=tenant), headers=owner, json=body)
    assert response.status_code < 500, response.text
