"""The native API of tokens (``/v1/tokens``): issue, list, show and revoke a tenant's personal
access tokens over HTTP, for its ``IAM_OWNER`` only; the secret is answered once, on issue."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import ConfigDict, Field

from chronik.api.http import JSON, Body, UtcTime, body_schema, caller, parse, services
from chronik.api.schemas import NativeError, Shape, answers
from chronik.auth.principal import Principal
from chronik.errors import PermissionDenied
from chronik.events.shapes import timestamp
from chronik.records import TokenRecord

router = APIRouter(prefix="/v1/tokens", tags=["Native API: tokens"])

OWNER = "IAM_OWNER"
TokenId = Annotated[str, Path(min_length=1, max_length=26)]


async def owner(request: Request) -> Principal:
    """The caller, who must hold the tenant's ``IAM_OWNER`` role."""
    principal = await caller(request)
    if OWNER not in principal.roles:
        raise PermissionDenied(f"managing tokens takes the {OWNER} role", role=OWNER)
    return principal


Owner = Annotated[Principal, Depends(owner)]


class NewTokenBody(Body):
    """Unknown fields are refused, not ignored: a misspelt ``expiresAt`` would otherwise
    issue a token that never expires."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1)]
    roles: Annotated[list[str], Field(min_length=1)]
    expires_at: UtcTime | None = None
    organisation_id: Annotated[str | None, Field(max_length=200)] = None


class NativeToken(Shape):
    id: str
    name: str
    roles: list[str]
    organisationId: str
    createdAt: str
    expiresAt: str | None = None
    revokedAt: str | None = None


class IssuedToken(NativeToken):
    token: str


class NativeTokens(Shape):
    tokens: list[NativeToken]


def _token(record: TokenRecord) -> dict[str, Any]:
    token: dict[str, Any] = {
        "id": record.id,
        "name": record.name,
        "roles": list(record.roles),
        "organisationId": record.organisation_id,
        "createdAt": timestamp(record.created_at),
    }
    if record.expires_at is not None:
        token["expiresAt"] = timestamp(record.expires_at)
    if record.revoked_at is not None:
        token["revokedAt"] = timestamp(record.revoked_at)
    return token


@router.post(
    "",
    summary="Issue a token (its secret is answered now, and never again)",
    status_code=201,
    openapi_extra=body_schema(NewTokenBody, required=True),
    responses=answers(IssuedToken, NativeError, success=201),
)
async def issue(request: Request, who: Owner) -> JSON:
    body = await parse(request, NewTokenBody, empty_ok=False)
    record, bearer = await services(request).tokens.issue(
        who.tenant_id,
        body.roles,
        organisation_id=who.organisation_id
        if body.organisation_id is None
        else body.organisation_id,
        name=body.name,
        expires_at=body.expires_at,
        issuer=who,
    )
    return JSON({**_token(record), "token": bearer}, status_code=201)


@router.get(
    "",
    summary="The tenant's tokens, revoked ones too (never their secrets)",
    responses=answers(NativeTokens, NativeError),
)
async def list_tokens(request: Request, who: Owner) -> JSON:
    found = await services(request).tokens.list(who.tenant_id)
    return JSON({"tokens": [_token(t) for t in found]})


@router.get(
    "/{token_id}",
    summary="One token (never its secret)",
    responses=answers(NativeToken, NativeError, 404),
)
async def get_token(request: Request, token_id: TokenId, who: Owner) -> JSON:
    return JSON(_token(await services(request).tokens.get(who.tenant_id, token_id)))


@router.delete(
    "/{token_id}",
    summary="Revoke a token: it is refused from now on (the caller's own too)",
    responses=answers(NativeToken, NativeError, 404),
)
async def revoke(request: Request, token_id: TokenId, who: Owner) -> JSON:
    tokens = services(request).tokens
    await tokens.revoke(who.tenant_id, token_id)
    return JSON(_token(await tokens.get(who.tenant_id, token_id)))
