"""Tokens: shown once, stored hashed, expiring, revocable; the bootstrap token; OIDC JWTs."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import stat
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from chronik.auth.bootstrap import FILE_NAME, bootstrap
from chronik.errors import InvalidArgument, NotFound, Unauthenticated
from chronik.services import Chronik
from chronik.settings import Settings


async def test_a_token_authenticates_as_its_tenant_roles_and_organisation(
    chronik: Chronik, tenant: str
) -> None:
    record, bearer = await chronik.tokens.issue(
        tenant, ["EVENTS_READER"], organisation_id="org-1", name="reporting"
    )
    who = await chronik.tokens.authenticate(bearer)
    assert (who.tenant_id, who.organisation_id, who.roles) == (tenant, "org-1", ("EVENTS_READER",))
    assert who.permissions == {"events.read", "events.list"}
    assert who.subject == record.id


async def test_only_a_hash_of_the_token_is_stored(chronik: Chronik, tenant: str) -> None:
    record, bearer = await chronik.tokens.issue(tenant, ["IAM_OWNER"])
    [listed] = await chronik.tokens.list(tenant)
    assert listed.secret_hash == hashlib.sha256(bearer.encode()).digest() == record.secret_hash
    assert bearer not in repr(listed)


async def test_wrong_and_malformed_tokens_are_refused(chronik: Chronik, tenant: str) -> None:
    _, bearer = await chronik.tokens.issue(tenant, ["IAM_OWNER"])
    for wrong in (bearer[:-1] + ("A" if bearer[-1] != "A" else "B"), "chk_short", "x" * 600, ""):
        with pytest.raises(Unauthenticated):
            await chronik.tokens.authenticate(wrong)


async def test_an_expired_token_is_refused(chronik: Chronik, tenant: str) -> None:
    _, bearer = await chronik.tokens.issue(
        tenant, ["IAM_OWNER"], expires_at=datetime.now(UTC) + timedelta(milliseconds=300)
    )
    await chronik.tokens.authenticate(bearer)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            await chronik.tokens.authenticate(bearer)
        except Unauthenticated as exc:
            assert "expired" in exc.message
            return
    pytest.fail("the token never expired")


async def test_a_revoked_token_is_refused_at_once(chronik: Chronik, tenant: str) -> None:
    record, bearer = await chronik.tokens.issue(tenant, ["IAM_OWNER"])
    await chronik.tokens.authenticate(bearer)
    await chronik.tokens.revoke(tenant, record.id)
    with pytest.raises(Unauthenticated, match="revoked"):
        await chronik.tokens.authenticate(bearer)
    [listed] = await chronik.tokens.list(tenant)
    assert listed.revoked_at is not None


async def test_another_tenants_token_cannot_be_revoked_or_listed(
    chronik: Chronik, tenant: str, other_tenant: str
) -> None:
    record, bearer = await chronik.tokens.issue(other_tenant, ["IAM_OWNER"])
    with pytest.raises(NotFound):
        await chronik.tokens.revoke(tenant, record.id)
    assert await chronik.tokens.list(tenant) == []
    assert (await chronik.tokens.authenticate(bearer)).tenant_id == other_tenant


@pytest.mark.parametrize(
    ("roles", "kwargs", "message"),
    [
        (["NO_SUCH_ROLE"], {}, "unknown role"),
        ([], {}, "at least one role"),
        (["IAM_OWNER"], {"expires_at": datetime(2000, 1, 1, tzinfo=UTC)}, "future"),
        (["IAM_OWNER"], {"bearer": "short"}, "24 to 512"),
    ],
)
async def test_bad_token_requests_are_refused(
    chronik: Chronik, tenant: str, roles: list[str], kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        await chronik.tokens.issue(tenant, roles, **kwargs)  # type: ignore[arg-type]
    assert await chronik.tokens.list(tenant) == []


async def test_bootstrap_issues_one_admin_token_into_a_private_file(
    chronik: Chronik, tmp_path: Path
) -> None:
    tenant = await chronik.default_tenant()
    bearer = await bootstrap(chronik.tokens, tenant, tmp_path, None)
    assert bearer is not None
    path = tmp_path / FILE_NAME
    assert path.read_text().strip() == bearer
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (await chronik.tokens.authenticate(bearer)).roles == ("IAM_OWNER",)
    assert await bootstrap(chronik.tokens, tenant, tmp_path, None) is None
    assert len(await chronik.tokens.list(tenant.id)) == 1


async def test_a_chosen_bootstrap_token_becomes_the_token(chronik: Chronik, tmp_path: Path) -> None:
    tenant = await chronik.default_tenant()
    chosen = "scripted-install-secret-0123456789"
    assert await bootstrap(chronik.tokens, tenant, tmp_path, chosen) == chosen
    assert (await chronik.tokens.authenticate(chosen)).tenant_id == tenant.id


@pytest.fixture
def issuer() -> Iterator[tuple[rsa.RSAPrivateKey, str]]:
    """A signing key and the URL of its JWKS, served on loopback."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    public.update(kid="k1", use="sig", alg="RS256")
    document = json.dumps({"keys": [public]}).encode()

    class JWKS(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), JWKS)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield key, f"http://127.0.0.1:{server.server_address[1]}/jwks"
    finally:
        server.shutdown()
        server.server_close()


async def test_oidc_access_tokens_map_claims_to_tenant_org_and_roles(
    settings: Settings, issuer: tuple[rsa.RSAPrivateKey, str]
) -> None:
    key, jwks = issuer
    configured = dataclasses.replace(
        settings, oidc_issuer="https://id.example", oidc_audience="chronik", oidc_jwks_url=jwks
    )
    async with await Chronik.open(configured) as chronik:
        tenant = (await chronik.tenants.create("acme")).id

        def sign(**overrides: object) -> str:
            claims: dict[str, object] = {
                "iss": "https://id.example",
                "aud": "chronik",
                "sub": "user-7",
                "exp": int(time.time()) + 60,
                "urn:chronik:tenant": tenant,
                "urn:zitadel:iam:user:resourceowner:id": "org-9",
                "urn:zitadel:iam:org:project:roles": {"EVENTS_WRITER": {"org-9": "acme.example"}},
                **overrides,
            }
            return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})

        who = await chronik.authenticator.authenticate(f"Bearer {sign()}")
        assert (who.tenant_id, who.organisation_id, who.subject) == (tenant, "org-9", "user-7")
        assert "events.write" in who.permissions
        other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        forged = jwt.encode(
            {
                "iss": "https://id.example",
                "aud": "chronik",
                "sub": "x",
                "exp": int(time.time()) + 60,
            },
            other_key,
            algorithm="RS256",
            headers={"kid": "k1"},
        )
        for bad in (
            sign(iss="https://evil.example"),
            sign(aud="someone-else"),
            sign(exp=int(time.time()) - 10),
            sign(**{"urn:chronik:tenant": ""}),
            forged,
        ):
            with pytest.raises(Unauthenticated):
                await chronik.authenticator.authenticate(f"Bearer {bad}")


async def test_an_unusable_jwks_url_is_refused_at_start(settings: Settings) -> None:
    configured = dataclasses.replace(
        settings, oidc_issuer="https://id.example", oidc_jwks_url="file:///etc/passwd"
    )
    with pytest.raises(InvalidArgument, match="JWKS URL"):
        await Chronik.open(configured)
