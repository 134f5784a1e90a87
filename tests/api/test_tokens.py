"""Tokens over HTTP (``/v1/tokens``): issued with their secret once, listed and shown without
it, revoked at once (the caller's own too), for the tenant's IAM_OWNER only, and never
another tenant's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from chronik.auth.permissions import permissions_of
from chronik.auth.principal import Principal
from chronik.errors import PermissionDenied
from chronik.services import Chronik
from tests.api.helpers import ORG, Headers, bearer, native_error
from tests.conftest import surface_backend

backend = surface_backend()  # the contract suite covers storage on both backends


def issue_body(**fields: Any) -> dict[str, Any]:
    return {"name": "ci deploys", "roles": ["EVENTS_WRITER"], **fields}


async def issue(api: httpx.AsyncClient, headers: Headers, **fields: Any) -> dict[str, Any]:
    response = await api.post("/v1/tokens", headers=headers, json=issue_body(**fields))
    assert response.status_code == 201, response.text
    issued: dict[str, Any] = response.json()
    return issued


def as_bearer(issued: dict[str, Any]) -> Headers:
    return {"Authorization": f"Bearer {issued['token']}"}


async def test_an_issued_token_answers_its_fields_and_secret_and_works(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    issued = await issue(api, owner, roles=["EVENTS_READER", "ORG_OWNER_VIEWER"])

    assert issued["name"] == "ci deploys"
    assert issued["roles"] == ["EVENTS_READER", "ORG_OWNER_VIEWER"]
    assert issued["token"].startswith("chk_")
    assert "expiresAt" not in issued and "revokedAt" not in issued
    me = await api.get("/v1/me", headers=as_bearer(issued))
    assert me.status_code == 200, me.text
    assert me.json()["roles"] == ["EVENTS_READER", "ORG_OWNER_VIEWER"]


async def test_a_token_acts_in_the_callers_organisation_unless_told_otherwise(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    default = await issue(api, owner)
    named = await issue(api, owner, organisationId="org-sales")

    assert default["organisationId"] == ORG
    assert named["organisationId"] == "org-sales"
    me = await api.get("/v1/me", headers=as_bearer(named))
    assert me.json()["organisationId"] == "org-sales"


async def test_an_expiry_is_kept_and_answered_in_utc(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    at = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    in_berlin = at.astimezone(datetime.now().astimezone().tzinfo).isoformat()

    issued = await issue(api, owner, expiresAt=in_berlin)

    assert datetime.fromisoformat(issued["expiresAt"]) == at
    assert issued["expiresAt"].endswith("Z")


async def test_listing_and_showing_never_answer_a_secret(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    issued = await issue(api, owner)

    listed = await api.get("/v1/tokens", headers=owner)
    shown = await api.get(f"/v1/tokens/{issued['id']}", headers=owner)

    assert listed.status_code == 200 and shown.status_code == 200, (listed.text, shown.text)
    assert issued["token"] not in listed.text and issued["token"] not in shown.text
    mine = [t for t in listed.json()["tokens"] if t["id"] == issued["id"]]
    assert mine == [{k: v for k, v in issued.items() if k != "token"}]
    assert shown.json() == mine[0]
    assert all("token" not in t for t in listed.json()["tokens"])


async def test_a_revoked_token_is_refused_at_once_and_listed_as_revoked(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    issued = await issue(api, owner)
    assert (await api.get("/v1/me", headers=as_bearer(issued))).status_code == 200

    revoked = await api.delete(f"/v1/tokens/{issued['id']}", headers=owner)

    assert revoked.status_code == 200, revoked.text
    assert "revokedAt" in revoked.json()
    refused = await api.get("/v1/me", headers=as_bearer(issued))
    assert "revoked" in native_error(refused, 401, "UNAUTHENTICATED")
    shown = await api.get(f"/v1/tokens/{issued['id']}", headers=owner)
    assert shown.json()["revokedAt"] == revoked.json()["revokedAt"]


async def test_an_owner_may_revoke_its_own_token_and_is_refused_right_after(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    me = await issue(api, owner, roles=["IAM_OWNER"])
    assert (await api.get("/v1/tokens", headers=as_bearer(me))).status_code == 200

    revoked = await api.delete(f"/v1/tokens/{me['id']}", headers=as_bearer(me))

    assert revoked.status_code == 200, revoked.text
    native_error(await api.get("/v1/tokens", headers=as_bearer(me)), 401, "UNAUTHENTICATED")


async def test_revoking_a_revoked_token_again_is_not_found(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    issued = await issue(api, owner)
    await api.delete(f"/v1/tokens/{issued['id']}", headers=owner)

    again = await api.delete(f"/v1/tokens/{issued['id']}", headers=owner)

    assert issued["id"] in native_error(again, 404, "NOT_FOUND")


@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_another_tenants_token_is_not_found(
    api: httpx.AsyncClient, owner: Headers, stranger: Headers, method: str
) -> None:
    theirs = await issue(api, stranger)

    response = await api.request(method, f"/v1/tokens/{theirs['id']}", headers=owner)

    native_error(response, 404, "NOT_FOUND")
    still = await api.get("/v1/me", headers=as_bearer(theirs))
    assert still.status_code == 200, still.text


async def test_another_tenants_tokens_are_not_listed(
    api: httpx.AsyncClient, owner: Headers, stranger: Headers
) -> None:
    theirs = await issue(api, stranger)

    listed = await api.get("/v1/tokens", headers=owner)

    assert theirs["id"] not in {t["id"] for t in listed.json()["tokens"]}


async def test_an_unknown_token_id_is_not_found(api: httpx.AsyncClient, owner: Headers) -> None:
    response = await api.get("/v1/tokens/01JZZZZZZZZZZZZZZZZZZZZZZZ", headers=owner)

    assert "01JZZZZZZZZZZZZZZZZZZZZZZZ" in native_error(response, 404, "NOT_FOUND")


@pytest.mark.parametrize("role", ["IAM_OWNER_VIEWER", "EVENTS_WRITER", "ORG_OWNER"])
@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/tokens"), ("GET", "/v1/tokens"), ("GET", "/v1/tokens/x")],
)
async def test_only_an_iam_owner_manages_tokens(
    api: httpx.AsyncClient, chronik: Chronik, tenant: str, role: str, method: str, path: str
) -> None:
    headers = await bearer(chronik, tenant, role)

    response = await api.request(method, path, headers=headers, json=issue_body())

    assert "IAM_OWNER" in native_error(response, 403, "PERMISSION_DENIED")


async def test_a_non_owner_cannot_revoke_even_its_own_token(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    issued = await issue(api, owner, roles=["IAM_OWNER_VIEWER"])

    response = await api.delete(f"/v1/tokens/{issued['id']}", headers=as_bearer(issued))

    native_error(response, 403, "PERMISSION_DENIED")
    assert (await api.get("/v1/me", headers=as_bearer(issued))).status_code == 200


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token-of-ours-at-all"}])
async def test_tokens_need_a_valid_token(api: httpx.AsyncClient, headers: Headers) -> None:
    native_error(await api.get("/v1/tokens", headers=headers), 401, "UNAUTHENTICATED")


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"roles": ["EVENTS_WRITER", "SUPERUSER", "root"]}, ["SUPERUSER", "root"]),
        ({"roles": []}, ["roles"]),
        ({"roles": "IAM_OWNER"}, ["roles"]),
        ({"roles": [7]}, ["roles"]),
        ({"name": ""}, ["name"]),
        ({"name": "x" * 201}, ["name"]),
        ({"name": "line\nbreak"}, ["name"]),
        ({"name": None}, ["name"]),
        ({"expiresAt": "2001-01-01T00:00:00Z"}, ["expiry", "future"]),
        ({"expiresAt": "next tuesday"}, ["expiresAt"]),
        ({"expires": "30d"}, ["expires"]),
        ({"secret": "chosen-by-me-0123456789abcdef"}, ["secret"]),
        ({"organisationId": 12}, ["organisationId"]),
    ],
)
async def test_a_bad_token_request_is_refused_naming_the_problem(
    api: httpx.AsyncClient, owner: Headers, fields: dict[str, Any], named: list[str]
) -> None:
    response = await api.post("/v1/tokens", headers=owner, json=issue_body(**fields))

    message = native_error(response, 400, "INVALID_ARGUMENT")
    assert all(word in message for word in named), message
    assert len((await api.get("/v1/tokens", headers=owner)).json()["tokens"]) == 1


@pytest.mark.parametrize("body", [b"", b"[]", b"{", b'"name"'])
async def test_a_token_request_that_is_no_json_object_is_refused(
    api: httpx.AsyncClient, owner: Headers, body: bytes
) -> None:
    response = await api.post(
        "/v1/tokens", headers={**owner, "Content-Type": "application/json"}, content=body
    )

    native_error(response, 400, "INVALID_ARGUMENT")


async def test_a_token_may_not_grant_a_permission_its_issuer_lacks(
    chronik: Chronik, tenant: str
) -> None:
    org_owner = Principal(
        tenant_id=tenant,
        organisation_id=ORG,
        roles=("ORG_OWNER",),
        permissions=permissions_of(["ORG_OWNER"]),
        subject="issuer",
    )

    with pytest.raises(PermissionDenied, match="EVENTS_WRITER, IAM_OWNER"):
        await chronik.tokens.issue(
            tenant, ["ORG_OWNER_VIEWER", "IAM_OWNER", "EVENTS_WRITER"], issuer=org_owner
        )
    assert await chronik.tokens.list(tenant) == []
