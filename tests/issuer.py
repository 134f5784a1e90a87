"""A fake OIDC issuer for the suites, on a free loopback port: discovery, an authorization
endpoint that approves at once (or refuses, when told), a token endpoint that checks the
PKCE verifier and answers RS256 JWTs, and its JWKS."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import hashlib
import html
import json
import secrets
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

CLIENT_ID = "chronik-console"
AUDIENCE = "chronik"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclasses.dataclass
class Issuer:
    """The fake issuer; a test may have it refuse (``deny``), ask first (``consent``: a page
    of its own with a link that approves, as a real issuer's sign-in page is) or change its
    tokens' claims."""

    url: str = ""
    deny: bool = False
    consent: bool = False
    discovered: int = 0
    claims: dict[str, Any] = dataclasses.field(default_factory=dict)
    codes: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)

    def app(self) -> Starlette:
        async def discovery(request: Request) -> Response:
            self.discovered += 1
            return JSONResponse(
                {
                    "issuer": self.url,
                    "authorization_endpoint": f"{self.url}/authorize",
                    "token_endpoint": f"{self.url}/token",
                    "jwks_uri": f"{self.url}/jwks",
                    "code_challenge_methods_supported": ["S256"],
                }
            )

        async def authorize(request: Request) -> Response:
            asked = request.query_params
            back = asked["redirect_uri"]
            if self.deny:
                said = {"error": "access_denied", "error_description": "the user said no"}
                return RedirectResponse(f"{back}?{urlencode({**said, 'state': asked['state']})}")
            assert asked["client_id"] == CLIENT_ID and asked["code_challenge_method"] == "S256"
            if self.consent and "approved" not in asked:
                approve = f"/authorize?{urlencode({**asked, 'approved': '1'})}"
                return HTMLResponse(f'<!doctype html><a href="{html.escape(approve)}">Approve</a>')
            code = secrets.token_urlsafe(16)
            self.codes[code] = dict(asked)
            return RedirectResponse(f"{back}?{urlencode({'code': code, 'state': asked['state']})}")

        async def token(request: Request) -> Response:
            form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
            asked = self.codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "").encode()
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
            if (
                asked is None
                or form.get("redirect_uri") != asked["redirect_uri"]
                or challenge.decode() != asked["code_challenge"]
            ):
                return JSONResponse({"error": "invalid_grant"}, 400)
            now = int(time.time())
            common = {"iss": self.url, "sub": "user-7", "iat": now, "exp": now + 300}
            access = {
                **common,
                "aud": [AUDIENCE, CLIENT_ID],
                "urn:chronik:tenant": "acme",
                "urn:zitadel:iam:org:project:roles": {"IAM_OWNER": {"org-1": "acme.example"}},
                **self.claims,
            }
            identity = {**common, "aud": CLIENT_ID, "nonce": asked["nonce"]}
            return JSONResponse(
                {
                    "access_token": _signed(access),
                    "id_token": _signed(identity),
                    "token_type": "Bearer",
                    "expires_in": 300,
                }
            )

        async def keys(request: Request) -> Response:
            jwk = json.loads(RSAAlgorithm.to_jwk(KEY.public_key()))
            return JSONResponse({"keys": [{**jwk, "kid": "k1", "alg": "RS256", "use": "sig"}]})

        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", discovery),
                Route("/authorize", authorize),
                Route("/token", token, methods=["POST"]),
                Route("/jwks", keys),
            ]
        )


def _signed(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, KEY, algorithm="RS256", headers={"kid": "k1"})


def _server(issuer: Issuer) -> tuple[uvicorn.Server, socket.socket]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    issuer.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    config = uvicorn.Config(issuer.app(), lifespan="off", log_level="warning")
    return uvicorn.Server(config), listener


@contextlib.asynccontextmanager
async def serving() -> AsyncIterator[Issuer]:
    """A fake issuer served by uvicorn in the running event loop."""
    issuer = Issuer()
    served, listener = _server(issuer)
    task = asyncio.create_task(served.serve(sockets=[listener]))
    while not served.started:
        assert not task.done(), "uvicorn stopped before it started"
        await asyncio.sleep(0.01)
    try:
        yield issuer
    finally:
        served.should_exit = True
        await task
        listener.close()


@contextlib.contextmanager
def running() -> Iterator[Issuer]:
    """A fake issuer served by uvicorn in a thread (for a test that has no event loop)."""
    issuer = Issuer()
    served, listener = _server(issuer)
    thread = threading.Thread(target=served.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    while not served.started:
        assert thread.is_alive(), "uvicorn stopped before it started"
        time.sleep(0.01)
    try:
        yield issuer
    finally:
        served.should_exit = True
        thread.join()
        listener.close()
