"""The OIDC issuer as the console's sign-in reaches it, as a relying party: its endpoints
(from its discovery document), the authorization URL of the code flow with PKCE (S256),
and the exchange of a code for an access token.

An issuer that cannot be reached, or whose discovery document lacks what the flow needs,
is :class:`Unavailable`; a code the token endpoint refuses, or an answer that is not what
the flow expects, is :class:`Unauthenticated`."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

import httpx

from chronik.errors import Unauthenticated, Unavailable
from chronik.settings import Settings

DISCOVERY_SECONDS = 3600.0
"""How long a discovery document is kept (one that could not be read is not kept)."""
TIMEOUT_SECONDS = 10.0


def challenge(verifier: str) -> str:
    """PKCE's S256 code challenge of ``verifier``."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class Endpoints:
    authorization: str
    token: str
    basic_auth: bool
    """Whether a confidential client authenticates with HTTP Basic (else in the form)."""


class Provider:
    """The issuer of ``settings.oidc_issuer`` for the client ``console_oidc_client_id``."""

    def __init__(self, settings: Settings) -> None:
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.client_id = settings.console_oidc_client_id
        self._secret = settings.console_oidc_client_secret
        self._scopes = settings.console_oidc_scopes
        self._endpoints: tuple[float, Endpoints] | None = None
        self._lock = asyncio.Lock()

    @property
    def host(self) -> str:
        """The issuer's host, as the sign-in page names it."""
        return urllib.parse.urlsplit(self.issuer).netloc or self.issuer

    async def endpoints(self) -> Endpoints:
        """The issuer's endpoints, read from its discovery document at most once an hour (a
        lock makes concurrent first sign-ins read it once)."""
        async with self._lock:
            now = time.monotonic()
            if self._endpoints is None or now - self._endpoints[0] > DISCOVERY_SECONDS:
                self._endpoints = (now, await self._discover())
            return self._endpoints[1]

    async def _discover(self) -> Endpoints:
        url = f"{self.issuer}/.well-known/openid-configuration"
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
                answer = await client.get(url, headers={"Accept": "application/json"})
            answer.raise_for_status()
            document = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            problem = f"the issuer's discovery document ({url}) is not readable: {exc}"
            raise Unavailable(problem) from exc
        if not isinstance(document, dict):
            raise Unavailable(f"the issuer's discovery document ({url}) is not a JSON object")
        if str(document.get("issuer", "")).rstrip("/") != self.issuer:
            raise Unavailable(
                f"the discovery document at {url} is of the issuer "
                f"{document.get('issuer')!r}, not {self.issuer!r}"
            )
        authorization, token = (
            document.get("authorization_endpoint"),
            document.get("token_endpoint"),
        )
        if not isinstance(authorization, str) or not isinstance(token, str):
            raise Unavailable(f"the discovery document at {url} lacks the code flow's endpoints")
        methods = document.get("code_challenge_methods_supported")
        if isinstance(methods, list) and "S256" not in methods:
            raise Unavailable(f"the issuer {self.issuer} does not take PKCE's S256 challenges")
        auth_methods = document.get("token_endpoint_auth_methods_supported")
        # client_secret_basic is the default when the issuer does not say (RFC 8414).
        basic = not isinstance(auth_methods, list) or "client_secret_basic" in auth_methods
        return Endpoints(authorization, token, basic)

    async def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, verifier: str
    ) -> str:
        """Where to send the browser to sign in; it comes back to ``redirect_uri``."""
        endpoint = (await self.endpoints()).authorization
        query = urllib.parse.urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "scope": self._scopes,
                "state": state,
                "nonce": nonce,
                "code_challenge": challenge(verifier),
                "code_challenge_method": "S256",
            }
        )
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    async def exchange(self, *, code: str, redirect_uri: str, verifier: str, nonce: str) -> str:
        """The access token the token endpoint gives for ``code`` (with the verifier, and
        the secret of a confidential client).

        The ID token, when there is one, is read without checking its signature: it came
        straight from the token endpoint, which OIDC Core (3.1.3.7) lets stand for that.
        Its issuer, audience and ``nonce`` must be this flow's. The access token is checked
        by the caller, as every bearer token is."""
        endpoints = await self.endpoints()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
            "client_id": self.client_id,
        }
        headers = {"Accept": "application/json"}
        if self._secret and endpoints.basic_auth:
            pair = f"{_form(self.client_id)}:{_form(self._secret)}".encode()
            headers["Authorization"] = f"Basic {base64.b64encode(pair).decode('ascii')}"
        elif self._secret:
            form["client_secret"] = self._secret
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
                answer = await client.post(endpoints.token, data=form, headers=headers)
        except httpx.HTTPError as exc:
            raise Unavailable(f"the issuer's token endpoint is not reachable: {exc}") from exc
        try:
            body = answer.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise Unauthenticated(f"the token endpoint answered {answer.status_code}, not JSON")
        if answer.status_code != 200 or "error" in body:
            error = body.get("error", answer.status_code)
            described = body.get("error_description")
            raise Unauthenticated(
                f"the issuer refused the code: {error}" + (f" ({described})" if described else "")
            )
        access = body.get("access_token")
        if not isinstance(access, str) or not access:
            raise Unauthenticated("the token endpoint's answer holds no access token")
        if "id_token" in body:
            self._check_id_token(body["id_token"], nonce)
        return access

    def _check_id_token(self, id_token: object, nonce: str) -> None:
        import jwt

        try:
            claims: dict[str, Any] = jwt.decode(str(id_token), options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"the ID token is not readable: {exc}") from exc
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if (
            str(claims.get("iss", "")).rstrip("/") != self.issuer
            or self.client_id not in audiences
            or claims.get("nonce") != nonce
        ):
            raise Unauthenticated("the ID token is not of this sign-in (issuer, audience or nonce)")


def _form(value: str) -> str:
    """``value`` form-encoded, as HTTP Basic client credentials are (RFC 6749, 2.3.1)."""
    return urllib.parse.quote_plus(value)
