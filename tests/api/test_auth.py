"""Authentication and permissions on every surface: who may call what, and how a refusal
reads in each surface's own error format."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from chronik.ids import new_ulid
from chronik.services import Chronik
from tests.api.helpers import Headers, bearer, new_event, surface_error


@dataclass(frozen=True)
class Endpoint:
    surface: str
    method: str
    path: str
    """With ``{tenant}`` for the caller's tenant."""
    body: Any = None

    async def call(
        self,
        api: httpx.AsyncClient,
        tenant: str,
        headers: Mapping[str, str] | Mapping[bytes, bytes] | None = None,
        **kw: Any,
    ) -> httpx.Response:
        if self.body is not None and "content" not in kw:
            kw["json"] = self.body
        return await api.request(
            self.method, self.path.format(tenant=tenant), headers=headers or {}, **kw
        )


LOCATOR = new_ulid()
ENDPOINTS = [
    Endpoint("zitadel", "POST", "/admin/v1/events/_search", {}),
    Endpoint("zitadel", "POST", "/admin/v1/events/types/_search", {}),
    Endpoint("zitadel", "POST", "/admin/v1/aggregates/types/_search", {}),
    Endpoint("socotra", "GET", f"/event/{{tenant}}/events/{LOCATOR}"),
    Endpoint("socotra", "GET", f"/event/{{tenant}}/events/request/{LOCATOR}"),
    Endpoint("socotra", "GET", "/event/{tenant}/events/list"),
    Endpoint("native", "POST", "/v1/events", {"events": [new_event()]}),
    Endpoint("native", "GET", f"/v1/events/{LOCATOR}"),
    Endpoint("native", "GET", "/v1/me"),
]


async def assert_refused_everywhere(
    api: httpx.AsyncClient, tenant: str, headers: Headers, status: int
) -> None:
    for endpoint in ENDPOINTS:
        response = await endpoint.call(api, tenant, headers)
        surface_error(endpoint.surface, response, status, (headers, endpoint))


async def test_a_valid_token_is_let_in_everywhere(
    api: httpx.AsyncClient, owner: Headers, tenant: str
) -> None:
    for endpoint in ENDPOINTS:
        response = await endpoint.call(api, tenant, owner)
        assert response.status_code in (200, 404), (endpoint, response.text)


async def test_a_missing_authorization_header_is_unauthenticated(
    api: httpx.AsyncClient, tenant: str
) -> None:
    await assert_refused_everywhere(api, tenant, {}, 401)


async def test_a_malformed_authorization_header_is_unauthenticated(
    api: httpx.AsyncClient, owner: Headers, tenant: str
) -> None:
    token = owner["Authorization"].removeprefix("Bearer ")
    for authorization in [
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer ",
        "bearer",
        "Token abc",
        "",
        token,
        f"Basic {token}",
    ]:
        await assert_refused_everywhere(api, tenant, {"Authorization": authorization}, 401)


async def test_a_malformed_token_is_unauthenticated(api: httpx.AsyncClient, tenant: str) -> None:
    for token in [
        "x",
        "chk_",
        "chk_" + "!" * 43,
        "a.b.c",
        "chk_" + "A" * 600,
        "ünïcödé-tökén-1234567890abc",
        "chk_\x00" + "A" * 43,
    ]:
        headers = {b"Authorization": b"Bearer " + token.encode()}
        for endpoint in ENDPOINTS:
            response = await endpoint.call(api, tenant, headers)
            surface_error(endpoint.surface, response, 401, (token, endpoint))


async def test_a_well_formed_but_unknown_token_is_unauthenticated(
    api: httpx.AsyncClient, owner: Headers, tenant: str
) -> None:
    real = owner["Authorization"]
    unknown = real[:-6] + ("AAAAAA" if not real.endswith("AAAAAA") else "BBBBBB")

    await assert_refused_everywhere(api, tenant, {"Authorization": unknown}, 401)


async def test_an_expired_token_is_unauthenticated(
    api: httpx.AsyncClient, chronik: Chronik, tenant: str
) -> None:
    expires = datetime.now(UTC) + timedelta(seconds=1)
    headers = await bearer(chronik, tenant, "IAM_OWNER", expires_at=expires)
    assert (await api.get("/v1/me", headers=headers)).status_code == 200

    deadline = time.monotonic() + 5
    while (await api.get("/v1/me", headers=headers)).status_code == 200:
        assert time.monotonic() < deadline, "the token outlived its expiry"
        assert datetime.now(UTC) < expires + timedelta(seconds=1)
        await asyncio.sleep(0.05)

    assert datetime.now(UTC) >= expires
    await assert_refused_everywhere(api, tenant, headers, 401)


async def test_a_revoked_token_is_unauthenticated_at_once(
    api: httpx.AsyncClient, chronik: Chronik, tenant: str
) -> None:
    record, token = await chronik.tokens.issue(tenant, ["IAM_OWNER"])
    headers = {"Authorization": f"Bearer {token}"}
    assert (await api.post("/admin/v1/events/_search", headers=headers)).status_code == 200

    await chronik.tokens.revoke(tenant, record.id)

    await assert_refused_everywhere(api, tenant, headers, 401)


async def test_the_scheme_is_case_insensitive(api: httpx.AsyncClient, owner: Headers) -> None:
    token = owner["Authorization"].removeprefix("Bearer ")

    response = await api.get("/v1/me", headers={"Authorization": f"bearer {token}"})

    assert response.status_code == 200, response.text


async def test_a_reader_may_not_append(api: httpx.AsyncClient, reader: Headers) -> None:
    response = await api.post("/v1/events", headers=reader, json={"events": [new_event()]})

    surface_error("native", response, 403)
    found = await api.post("/admin/v1/events/_search", headers=reader)
    assert found.json() == {}


async def test_an_iam_viewer_may_read_but_not_append(
    api: httpx.AsyncClient, viewer: Headers, owner: Headers, tenant: str
) -> None:
    [stored] = (await api.post("/v1/events", headers=owner, json={"events": [new_event()]})).json()[
        "events"
    ]

    for endpoint in ENDPOINTS[:6]:
        assert (await endpoint.call(api, tenant, viewer)).status_code in (200, 404)
    assert (await api.get(f"/v1/events/{stored['locator']}", headers=viewer)).status_code == 200
    write = await api.post("/v1/events", headers=viewer, json={"events": [new_event()]})
    surface_error("native", write, 403)


async def test_a_writer_may_append_and_read(
    api: httpx.AsyncClient, writer: Headers, tenant: str
) -> None:
    for endpoint in ENDPOINTS:
        response = await endpoint.call(api, tenant, writer)
        assert response.status_code in (200, 404), (endpoint, response.text)


async def test_organisation_roles_may_not_read_events(
    api: httpx.AsyncClient, org_owner: Headers, org_viewer: Headers, tenant: str
) -> None:
    for headers in (org_owner, org_viewer):
        for endpoint in ENDPOINTS[:-1]:
            response = await endpoint.call(api, tenant, headers)
            surface_error(endpoint.surface, response, 403, endpoint)
        assert (await api.get("/v1/me", headers=headers)).status_code == 200


async def test_permission_is_checked_before_the_body_is_read(
    api: httpx.AsyncClient, org_owner: Headers, reader: Headers, tenant: str
) -> None:
    for content in [b"{", b"not json", b"[1, 2]", b'{"limit": "abc"}', b'{"events": []}']:
        for endpoint in ENDPOINTS:
            if endpoint.method != "POST":
                continue
            headers = reader if endpoint.path == "/v1/events" else org_owner
            response = await endpoint.call(
                api, tenant, {**headers, "Content-Type": "application/json"}, content=content
            )
            surface_error(endpoint.surface, response, 403, (content, endpoint))


async def test_authentication_is_checked_before_the_body_is_read(
    api: httpx.AsyncClient, tenant: str
) -> None:
    for endpoint in ENDPOINTS:
        if endpoint.method == "POST":
            response = await endpoint.call(api, tenant, content=b"{")
            surface_error(endpoint.surface, response, 401, endpoint)
