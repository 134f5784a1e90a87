"""ZITADEL's error bodies are ``google.rpc.Status`` values a protojson client decodes: each
detail an ``Any`` of a known type, the HTTP status by grpc-gateway's table, and what Chronik
knows about the failure (field, limit) kept in standard detail types."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import httpx
import pytest
from google.protobuf.message import Message
from google.rpc.error_details_pb2 import BadRequest, ErrorInfo
from google.rpc.status_pb2 import Status

from chronik.api import create_app
from chronik.api.proto.zitadel import message_pb2
from chronik.api.zitadel_status import ERROR_IDS, HTTP_STATUS, zitadel_status
from chronik.errors import (
    AlreadyExists,
    ChronikError,
    Conflict,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)
from chronik.services import Chronik
from chronik.settings import Settings
from tests.api.helpers import OTHER_ORG, Headers, zitadel_status_body

SEARCH = "/admin/v1/events/_search"
CAP = 1024


def unpacked(status: Status) -> list[Message]:
    """Every detail of ``status`` unpacked into its message (each must unpack)."""
    kinds: dict[str, type[Message]] = {
        "zitadel.v1.ErrorDetail": message_pb2.ErrorDetail,
        "google.rpc.BadRequest": BadRequest,
        "google.rpc.ErrorInfo": ErrorInfo,
    }
    messages: list[Message] = []
    for detail in status.details:
        message = kinds[detail.type_url.removeprefix("type.googleapis.com/")]()
        assert detail.Unpack(message), detail.type_url
        messages.append(message)
    return messages


def error_detail(status: Status) -> message_pb2.ErrorDetail:
    [found] = [m for m in unpacked(status) if isinstance(m, message_pb2.ErrorDetail)]
    assert found.message == status.message
    return found


def error_info(status: Status) -> ErrorInfo:
    [found] = [m for m in unpacked(status) if isinstance(m, ErrorInfo)]
    assert found.domain == "chronik"
    return found


def bad_request(status: Status) -> BadRequest:
    [found] = [m for m in unpacked(status) if isinstance(m, BadRequest)]
    return found


@pytest.fixture
async def small_api(settings: Settings, chronik: Chronik) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app that takes bodies of at most ``CAP`` bytes."""
    app = create_app(dataclasses.replace(settings, max_body_bytes=CAP), chronik=chronik)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_a_missing_token_carries_a_zitadel_error_detail(api: httpx.AsyncClient) -> None:
    status = zitadel_status_body(await api.post(SEARCH, json={}), 401, 16)
    assert error_detail(status).id == "CHRONIK-AU01"


async def test_a_wrong_token_carries_a_zitadel_error_detail(api: httpx.AsyncClient) -> None:
    wrong = {"Authorization": "Bearer not-a-token"}
    status = zitadel_status_body(await api.post(SEARCH, headers=wrong, json={}), 401, 16)
    assert error_detail(status).id == "CHRONIK-AU01"


async def test_another_tenants_organisation_is_permission_denied_naming_it(
    api: httpx.AsyncClient, org_owner: Headers
) -> None:
    elsewhere = {**org_owner, "x-zitadel-orgid": OTHER_ORG}
    response = await api.post("/management/v1/actions/_search", headers=elsewhere, json={})
    status = zitadel_status_body(response, 403, 7)
    assert error_detail(status).id == "CHRONIK-PD01"
    assert error_info(status).metadata["organisation"] == OTHER_ORG


async def test_a_missing_action_is_not_found(api: httpx.AsyncClient, org_owner: Headers) -> None:
    response = await api.get("/management/v1/actions/999", headers=org_owner)
    status = zitadel_status_body(response, 404, 5)
    assert error_detail(status).id == "CHRONIK-NF01"


async def test_too_many_filters_name_the_field_and_the_limit(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    body = {"eventTypes": [f"t{i}" for i in range(31)]}
    response = await api.post(SEARCH, headers=owner, json=body)
    status = zitadel_status_body(response, 400, 3)
    [violation] = bad_request(status).field_violations
    assert violation.field == "eventTypes" and violation.description == status.message
    assert "at most 30" in status.message


async def test_an_unknown_enum_value_names_its_field(
    api: httpx.AsyncClient, org_owner: Headers
) -> None:
    url = "/management/v1/flows/FLOW_TYPE_NOPE/trigger/TRIGGER_TYPE_NOPE"
    status = zitadel_status_body(
        await api.post(url, headers=org_owner, json={"actionIds": []}), 400, 3
    )
    [violation] = bad_request(status).field_violations
    assert violation.field == "flowType"
    assert not [m for m in unpacked(status) if isinstance(m, message_pb2.ErrorDetail)]


async def test_an_oversized_body_is_resource_exhausted_with_its_limit(
    small_api: httpx.AsyncClient, owner: Headers
) -> None:
    response = await small_api.post(SEARCH, headers=owner, json={"aggregateId": "x" * CAP})
    status = zitadel_status_body(response, 429, 8)
    assert error_info(status).reason == "RESOURCE_EXHAUSTED"
    assert error_info(status).metadata["limit"] == str(CAP)


@pytest.mark.parametrize(
    ("error", "http"),
    [
        (InvalidArgument("bad", field="limit", limit=5), 400),
        (NotFound("gone"), 404),
        (AlreadyExists("taken", name="enrich"), 409),
        (Conflict("moved on", current_version=3, expected_version=2), 409),
        (FailedPrecondition("not now"), 400),
        (PermissionDenied("no"), 403),
        (ResourceExhausted("too big", limit=10), 429),
        (Unauthenticated("who?"), 401),
        (Unavailable("down", cause=OSError("refused")), 503),
        (ChronikError("odd"), 500),
    ],
)
def test_every_error_is_a_status_whose_details_unpack(error: ChronikError, http: int) -> None:
    status = zitadel_status(error)
    assert (status.code, status.message) == (error.grpc_code, error.message)
    assert HTTP_STATUS[status.code] == http
    details = unpacked(status)
    has_id = any(isinstance(m, message_pb2.ErrorDetail) for m in details)
    assert has_id == (status.code in ERROR_IDS)
    kept = {k for k in error.details if k not in {"cause", "field"}}
    if kept:
        camel = {"current_version": "currentVersion", "expected_version": "expectedVersion"}
        assert set(error_info(status).metadata) == {camel.get(k, k) for k in kept}


def test_a_conflict_keeps_the_versions_as_strings() -> None:
    status = zitadel_status(Conflict("moved on", current_version=3, expected_version="exists"))
    info = error_info(status)
    assert info.reason == "CONFLICT"
    assert dict(info.metadata) == {"currentVersion": "3", "expectedVersion": "exists"}
