"""OIDC access tokens over HTTP: a JWT is let in only when its signature verifies with the
issuer's key under that key's own algorithm and its time claims are numbers. Anything else
(an algorithm the key is not for, an unknown or absent algorithm, a malformed key, JWKS or
header, a claim of the wrong type) is a 401 in each surface's own error body, never a 500."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import math
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm, get_default_algorithms

from chronik.api import create_app
from chronik.services import Chronik
from chronik.settings import Settings
from tests.api.helpers import surface_error

ISSUER = "https://id.example"
AUDIENCE = "chronik"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
EC384_KEY = ec.generate_private_key(ec.SECP384R1())
ED_KEY = ed25519.Ed25519PrivateKey.generate()
RSA_PEM = RSA_KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)
HMAC_SECRET = b"a-shared-secret-in-a-public-jwks-0123456789"


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _jwk(public: str, **fields: str) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(public)
    return {**jwk, "use": "sig", **fields}


KEYS = [
    _jwk(RSAAlgorithm.to_jwk(RSA_KEY.public_key()), kid="rsa", alg="RS256"),
    _jwk(ECAlgorithm.to_jwk(EC_KEY.public_key()), kid="ec", alg="ES256"),
    {"kty": "oct", "kid": "hmac", "k": _b64(HMAC_SECRET).decode(), "alg": "HS256"},
    {"kty": "RSA", "kid": "broken-rsa", "n": "!!not base64!!", "e": "AQAB"},
    {"kty": "EC", "kid": "broken-ec", "crv": "P-256", "x": "AAAA", "y": "AAAA"},
    _jwk(RSAAlgorithm.to_jwk(RSA_KEY.public_key()), kid="rsa-says-es256", alg="ES256"),
    _jwk(RSAAlgorithm.to_jwk(RSA_KEY.public_key()), kid="rsa-says-xy", alg="XY999"),
]


def signer(algorithm: str, key: Any) -> Callable[[bytes], bytes]:
    implementation = get_default_algorithms()[algorithm]
    prepared = implementation.prepare_key(key)
    return lambda message: implementation.sign(message, prepared)


def hs256(secret: bytes) -> Callable[[bytes], bytes]:
    return lambda message: hmac.new(secret, message, hashlib.sha256).digest()


def no_signature(message: bytes) -> bytes:
    return b""


RS256 = signer("RS256", RSA_KEY)


def claims(**overrides: object) -> dict[str, object]:
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-7",
        "exp": int(time.time()) + 300,
        "urn:chronik:tenant": "acme",
        "urn:zitadel:iam:org:project:roles": ["IAM_OWNER"],
        **overrides,
    }


def jws(header: object, payload: object, sign: Callable[[bytes], bytes] = RS256) -> str:
    """A compact JWS of any header and payload (bytes are taken as they are), signed by
    ``sign`` whatever the header claims."""
    parts = [p if isinstance(p, bytes) else json.dumps(p).encode() for p in (header, payload)]
    signing_input = _b64(parts[0]) + b"." + _b64(parts[1])
    return (signing_input + b"." + _b64(sign(signing_input))).decode()


@dataclasses.dataclass
class JWKS:
    url: str
    document: bytes


@pytest.fixture
def jwks() -> Iterator[JWKS]:
    """The issuer's JWKS on loopback; a test may replace the document it serves."""
    served = JWKS("", json.dumps({"keys": KEYS}).encode())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(served.document)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    served.url = f"http://127.0.0.1:{server.server_address[1]}/jwks"
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
async def oidc_api(settings: Settings, jwks: JWKS) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app that accepts the issuer's JWTs; the tenant ``acme`` exists."""
    configured = dataclasses.replace(
        settings, oidc_issuer=ISSUER, oidc_audience=AUDIENCE, oidc_jwks_url=jwks.url
    )
    async with await Chronik.open(configured) as chronik:
        await chronik.tenants.create("acme", tenant_id="acme")
        transport = httpx.ASGITransport(app=create_app(configured, chronik=chronik))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


SURFACES = [
    ("zitadel", "POST", "/admin/v1/events/_search"),
    ("socotra", "GET", "/event/acme/events/list"),
    ("native", "GET", "/v1/me"),
]


async def assert_unauthenticated(api: httpx.AsyncClient, token: str, case: str) -> None:
    for surface, method, path in SURFACES:
        response = await api.request(
            method, path, headers={"Authorization": f"Bearer {token}"}, json={}
        )
        surface_error(surface, response, 401, case)


async def test_a_token_signed_with_the_keys_own_algorithm_is_let_in(
    oidc_api: httpx.AsyncClient,
) -> None:
    for kid, sign in [("rsa", RS256), ("ec", signer("ES256", EC_KEY))]:
        alg = "RS256" if kid == "rsa" else "ES256"
        token = jws({"alg": alg, "typ": "JWT", "kid": kid}, claims(), sign)
        for _, method, path in SURFACES:
            response = await oidc_api.request(
                method, path, headers={"Authorization": f"Bearer {token}"}, json={}
            )
            assert response.status_code == 200, (kid, path, response.text)


MISMATCHES = {
    "ES256 with an RSA key": ({"alg": "ES256", "kid": "rsa"}, signer("ES256", EC_KEY)),
    "ES384 with an RSA key": ({"alg": "ES384", "kid": "rsa"}, signer("ES384", EC384_KEY)),
    "PS256 with an RS256 key": ({"alg": "PS256", "kid": "rsa"}, signer("PS256", RSA_KEY)),
    "EdDSA with an RSA key": ({"alg": "EdDSA", "kid": "rsa"}, signer("EdDSA", ED_KEY)),
    "HS256 keyed by the RSA public key": ({"alg": "HS256", "kid": "rsa"}, hs256(RSA_PEM)),
    "RS256 with an EC key": ({"alg": "RS256", "kid": "ec"}, RS256),
    "HS256 with a symmetric JWKS key": ({"alg": "HS256", "kid": "hmac"}, hs256(HMAC_SECRET)),
    "alg none": ({"alg": "none", "kid": "rsa"}, no_signature),
    "alg None": ({"alg": "None", "kid": "rsa"}, no_signature),
    "an unknown alg": ({"alg": "XY999", "kid": "rsa"}, RS256),
    "no alg": ({"kid": "rsa"}, RS256),
    "alg a list": ({"alg": ["RS256"], "kid": "rsa"}, RS256),
    "alg an object": ({"alg": {"RS256": 1}, "kid": "rsa"}, RS256),
    "a malformed RSA key": ({"alg": "RS256", "kid": "broken-rsa"}, RS256),
    "a malformed EC key": ({"alg": "ES256", "kid": "broken-ec"}, signer("ES256", EC_KEY)),
    "an RSA key that says ES256": ({"alg": "ES256", "kid": "rsa-says-es256"}, RS256),
    "an RSA key of an unknown alg": ({"alg": "RS256", "kid": "rsa-says-xy"}, RS256),
    "an unknown kid": ({"alg": "RS256", "kid": "nobody"}, RS256),
    "no kid": ({"alg": "RS256"}, RS256),
    "kid a number": ({"alg": "RS256", "kid": 7}, RS256),
}


async def test_an_algorithm_the_key_is_not_for_is_unauthenticated(
    oidc_api: httpx.AsyncClient,
) -> None:
    for case, (header, sign) in MISMATCHES.items():
        await assert_unauthenticated(oidc_api, jws(header, claims(), sign), case)


async def test_a_malformed_header_payload_or_jwks_is_unauthenticated(
    jwks: JWKS, oidc_api: httpx.AsyncClient
) -> None:
    rsa = {"alg": "RS256", "kid": "rsa"}
    good = jws(rsa, claims())
    tokens = {
        "header not base64": "!!!." + good.split(".", 1)[1],
        "header not JSON": jws(b"{alg: RS256", claims()),
        "header a JSON list": jws(b'["RS256"]', claims()),
        "header a JSON string": jws(b'"RS256"', claims()),
        "header not UTF-8": jws(b'{"alg": "RS256", "kid": "\xff"}', claims()),
        "signature not base64": good.rsplit(".", 1)[0] + ".***",
        "payload a JSON list": jws(rsa, b"[1, 2]"),
        "payload not JSON": jws(rsa, b"{exp"),
        "payload empty": jws(rsa, b""),
    }
    for case, token in tokens.items():
        await assert_unauthenticated(oidc_api, token, case)
    # A JWKS that fails to load is never cached: each request fetches the next document.
    for document in [b"not json", b"[1, 2]", b"{}", b'{"keys": "rsa"}', b'{"keys": [1, null]}']:
        jwks.document = document
        await assert_unauthenticated(oidc_api, good, document.decode())


async def test_a_time_claim_that_is_not_a_number_is_unauthenticated(
    oidc_api: httpx.AsyncClient,
) -> None:
    later, earlier = int(time.time()) + 300, int(time.time()) - 300
    rsa = {"alg": "RS256", "kid": "rsa"}
    cases: dict[str, object] = {
        "exp a numeric string": claims(exp=str(later)),
        "exp a far numeric string": claims(exp="9999999999"),
        "exp a float string": claims(exp=f"{later}.5"),
        "exp true": claims(exp=True),
        "exp null": claims(exp=None),
        "exp a list": claims(exp=[later]),
        "nbf a numeric string": claims(nbf=str(earlier)),
        "iat a numeric string": claims(iat=str(earlier)),
        "iat an object": claims(iat={"at": earlier}),
        "exp Infinity": json.dumps(claims(exp=math.inf)).encode(),
        "exp NaN": json.dumps(claims(exp=math.nan)).encode(),
        "nbf -Infinity": json.dumps(claims(nbf=-math.inf)).encode(),
        "iat NaN": json.dumps(claims(iat=math.nan)).encode(),
    }
    for case, payload in cases.items():
        await assert_unauthenticated(oidc_api, jws(rsa, payload), case)
    for numbers in (claims(exp=later + 0.5, nbf=earlier, iat=earlier), claims(exp=10**400)):
        response = await oidc_api.get(
            "/v1/me", headers={"Authorization": f"Bearer {jws(rsa, numbers)}"}
        )
        assert response.status_code == 200, response.text
