"""OIDC access tokens: JWTs checked against the issuer's JWKS (signature, issuer, audience,
expiry), their claims mapped to a tenant, an organisation and roles.

A token is verified only under the algorithm its key is for (the JWK's ``alg``, else the
one its type and curve imply), never under the one its header names: a header that names
another (ES256 with an RSA key, HS256 keyed by a public key, ``none``) is refused before any
key is prepared. Whatever a token, its header or the JWKS holds, a bad one is
:class:`Unauthenticated`."""

from __future__ import annotations

import asyncio
import math
from typing import Any

from chronik.auth.permissions import permissions_of
from chronik.auth.principal import Principal
from chronik.errors import InvalidArgument, Unauthenticated
from chronik.settings import Settings

_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
"""Asymmetric ones only: a key in a public JWKS that verifies HS256 is no secret."""
_TIMES = ("exp", "nbf", "iat")


class OidcVerifier:
    def __init__(self, settings: Settings) -> None:
        import jwt  # PyJWT and cryptography: only a process that takes JWTs pays for them

        self._settings = settings
        try:
            self._jwks = jwt.PyJWKClient(settings.oidc_jwks_url, cache_keys=True, lifespan=300)
        except jwt.PyJWKClientError as exc:
            raise InvalidArgument(f"the OIDC JWKS URL is not usable: {exc}") from exc

    async def authenticate(self, token: str) -> Principal:
        import jwt

        s = self._settings
        try:
            key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
        except (jwt.PyJWTError, ValueError) as exc:  # ValueError: a JWKS that is not JSON
            raise Unauthenticated(f"the access token has no usable key: {exc}") from exc
        algorithm = key.algorithm_name
        if algorithm not in _ALGORITHMS:
            raise Unauthenticated(
                f"the access token's key {key.key_id!r} is for {algorithm}, which is not accepted"
            )
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=s.oidc_audience or None,
                issuer=s.oidc_issuer,
                options={"require": ["exp", "iss", "sub"], "verify_aud": bool(s.oidc_audience)},
            )
        # The cryptography backend raises TypeError or ValueError for a signature or key it
        # cannot use; such a token is as invalid as one with a wrong signature.
        except (jwt.PyJWTError, TypeError, ValueError) as exc:
            raise Unauthenticated(f"the access token is not valid: {exc}") from exc
        for name in _TIMES:
            if name in claims and not _is_time(claims[name]):
                raise Unauthenticated(f"the access token's {name!r} claim is not a number")
        tenant = claims.get(s.oidc_tenant_claim)
        if not isinstance(tenant, str) or not tenant:
            raise Unauthenticated(f"the access token has no {s.oidc_tenant_claim!r} claim")
        roles = _roles(claims.get(s.oidc_roles_claim))
        organisation = claims.get(s.oidc_organisation_claim)
        return Principal(
            tenant_id=tenant,
            organisation_id=organisation if isinstance(organisation, str) else "",
            roles=roles,
            permissions=permissions_of(roles),
            subject=str(claims["sub"]),
            display_name=str(claims.get("name") or claims.get("preferred_username") or ""),
        )


def _is_time(value: object) -> bool:
    """A NumericDate: a JSON number (PyJWT would also take ``"9999999999"`` or ``true``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return isinstance(value, int) or math.isfinite(value)


def _roles(claim: object) -> tuple[str, ...]:
    """Roles as a list, or as ZITADEL's ``{role: {org id: domain}}`` map."""
    if isinstance(claim, dict):
        return tuple(str(r) for r in claim)
    if isinstance(claim, list):
        return tuple(str(r) for r in claim)
    if isinstance(claim, str):
        return tuple(claim.split())
    return ()


class Authenticator:
    """Turns a bearer token into a :class:`Principal`: a JWT (three dot-separated parts)
    goes to the OIDC issuer when one is configured, anything else is one of Chronik's own."""

    def __init__(self, tokens: Any, oidc: OidcVerifier | None) -> None:
        self._tokens = tokens
        self._oidc = oidc

    async def authenticate(self, authorization: str | None) -> Principal:
        if not authorization:
            raise Unauthenticated("a bearer token is required")
        scheme, _, bearer = authorization.partition(" ")
        bearer = bearer.strip()
        if scheme.lower() != "bearer" or not bearer:
            raise Unauthenticated("use the Authorization header: Bearer <token>")
        if self._oidc is not None and bearer.count(".") == 2:
            return await self._oidc.authenticate(bearer)
        principal: Principal = await self._tokens.authenticate(bearer)
        return principal
