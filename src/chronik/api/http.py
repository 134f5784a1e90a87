"""What every surface shares: JSON in and out, the caller's principal, permission checks."""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import msgspec
import pydantic
from fastapi import Request
from fastapi.responses import Response
from pydantic.alias_generators import to_camel

from chronik.auth.principal import Principal
from chronik.errors import InvalidArgument
from chronik.services import Chronik

M = TypeVar("M", bound=pydantic.BaseModel)
_encoder = msgspec.json.Encoder()


def _in_utc(value: datetime) -> datetime:
    """A timestamp in UTC; one whose offset carries it past year 1 or 9999 is refused (a
    ValueError, so that validation reports it as a 400, not a crash)."""
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the timestamp is out of range in UTC") from None


UtcTime = Annotated[datetime, pydantic.AfterValidator(_in_utc)]
"""A timestamp as the surfaces take it: RFC 3339 (no offset reads as UTC), held in UTC."""


class Body(pydantic.BaseModel):
    """A request body as grpc-gateway reads it: camelCase or snake_case field names,
    unknown fields ignored, 64-bit integers as numbers or strings."""

    model_config = pydantic.ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )


class JSON(Response):
    """A JSON response encoded by msgspec (no second validation of what we built)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _encoder.encode(content)


def services(request: Request) -> Chronik:
    chronik: Chronik = request.app.state.chronik
    return chronik


async def caller(request: Request) -> Principal:
    """The authenticated caller; every API route depends on this before anything else."""
    cached: Principal | None = request.scope.get(_PRINCIPAL)
    if cached is not None:
        return cached
    principal = await services(request).authenticator.authenticate(
        request.headers.get("authorization")
    )
    request.scope[_PRINCIPAL] = principal
    return principal


_PRINCIPAL = "chronik.principal"
"""Where a request's scope keeps its caller once authenticated (a plain key: ``request.state``
costs a wrapper object and a raised AttributeError on every first look)."""


async def authorized(request: Request, name: str) -> Principal:
    """The caller, who must hold ``name``: checked before the body is read."""
    principal = await caller(request)
    principal.require(name)
    return principal


def permission(name: str) -> Callable[[Request], Awaitable[Principal]]:
    """:func:`authorized` as a FastAPI dependency."""

    async def check(request: Request) -> Principal:
        return await authorized(request, name)

    check.__name__ = f"require_{name.replace('.', '_')}"
    return check


async def parse(request: Request, model: type[M], *, empty_ok: bool = True) -> M:
    """Read and validate the body after the permission check, with a clear message."""
    raw = await request.body()
    if not raw.strip():
        if empty_ok:
            return model()
        raise InvalidArgument("a JSON body is required")
    try:
        parsed = model.model_validate_json(raw)
    except pydantic.ValidationError as exc:
        raise InvalidArgument(_describe(exc)) from None
    if _SUSPECT.search(raw):
        _storable(parsed.model_dump(by_alias=True), "")
    return parsed


# What a body may hold only if the JSON parser let it through: NUL characters (no PostgreSQL
# text or jsonb can store them) and numbers that are not finite (NaN, Infinity, 1e400, which
# would be stored as null). A cheap scan of the raw bytes decides whether to look closer.
_SUSPECT = re.compile(rb"\\u0000|NaN|Infinity|[0-9][eE][+]?0*[1-9][0-9]{2}|[0-9]{300}")


def _storable(value: Any, where: str) -> None:
    """Refuse a NUL character or a number that is not finite anywhere in ``value``."""
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidArgument(f"{where} holds a NUL (\\u0000) character", field=where)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidArgument(f"{where} is not a finite number", field=where)
    elif isinstance(value, dict):
        for k, v in value.items():
            _storable(k, where or "body")
            _storable(v, f"{where}.{k}" if where else str(k))
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _storable(v, f"{where}[{i}]")


def validate(model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise InvalidArgument(_describe(exc)) from None


def _describe(exc: pydantic.ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False, include_input=False)[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "body"
        problems.append(f"{where}: {error['msg']}")
    return "invalid request: " + "; ".join(problems)


def body_schema(model: type[pydantic.BaseModel], *, required: bool = False) -> dict[str, Any]:
    """OpenAPI ``requestBody`` for routes that read their body themselves (so that the
    permission check comes first), with nested models inlined."""
    schema = model.model_json_schema(by_alias=True)
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return {
        "requestBody": {
            "content": {"application/json": {"schema": inline(schema)}},
            "required": required,
        }
    }
