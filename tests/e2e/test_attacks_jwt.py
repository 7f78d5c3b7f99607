"""Forged and broken access tokens (RFC 8725 attacks), on protected routes of both upstreams.

Every attack is tried at the gateway (GET /activities is served by activities, GET /me by
auth) and again straight at the service behind it, which verifies the token itself and must
not rely on the gateway. Each token is a good one with exactly one thing wrong: the control
test proves the same forging code, with nothing broken, is accepted everywhere.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

TOKEN = re.compile(r"token=([A-Za-z0-9_\-]+)")
PASSWORD = "a long enough secret"
# (who answers, path): through the gateway to each upstream, and each upstream directly.
TARGETS = [
    ("gateway", "/activities"),
    ("gateway", "/me"),
    ("activities", "/activities"),
    ("auth", "/me"),
]
ATTACKER = Ed25519PrivateKey.generate()


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def compact(header: dict[str, Any], claims: dict[str, Any], sign: Callable[[bytes], bytes]) -> str:
    """A JWS built by hand, so the header says exactly what the attack needs."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64url(sign(signing_input.encode()))}"


def hs256(secret: bytes) -> Callable[[bytes], bytes]:
    return lambda data: hmac.new(secret, data, hashlib.sha256).digest()


@dataclass
class Forge:
    """Tokens for a real, signed-up user, made with the auth service's own signing key."""

    key: Ed25519PrivateKey
    kid: str
    jwk: dict[str, Any]
    user: dict[str, Any]  # sub, email, ver, sid of the real user
    issuer: str
    audience: str
    now: int = field(default_factory=lambda: int(time.time()))

    def claims(self, drop: tuple[str, ...] = (), **overrides: Any) -> dict[str, Any]:
        claims = {
            **self.user,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": self.now,
            "exp": self.now + 600,
            "jti": uuid.uuid4().hex,
            **overrides,
        }
        return {k: v for k, v in claims.items() if k not in drop}

    def header(self, **overrides: Any) -> dict[str, Any]:
        return {"alg": "EdDSA", "typ": "JWT", "kid": self.kid, **overrides}

    def signed(
        self,
        claims: dict[str, Any] | None = None,
        header: dict[str, Any] | None = None,
        key: Ed25519PrivateKey | None = None,
    ) -> str:
        return compact(header or self.header(), claims or self.claims(), (key or self.key).sign)

    def public_raw(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    def public_pem(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def _attacker_jwk() -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(ATTACKER.public_key()))
    return jwk


def _swap_payload(token: str, claims: dict[str, Any]) -> str:
    head, _, sig = token.split(".")
    return f"{head}.{b64url(json.dumps(claims).encode())}.{sig}"


def _unsigned(f: Forge, alg: str) -> str:
    return compact(f.header(alg=alg), f.claims(), lambda _: b"")


def _hs256(f: Forge, secret: bytes, **header: Any) -> str:
    return compact(f.header(alg="HS256", **header), f.claims(), hs256(secret))


def _by_attacker(f: Forge, **header: Any) -> str:
    return f.signed(header=f.header(**header), key=ATTACKER)


def _without(f: Forge, claim: str) -> str:
    return f.signed(f.claims(drop=(claim,)))


# Each attack makes the bearer token; the real key signs unless the attack is about the key.
ATTACKS: dict[str, Callable[[Forge], str]] = {
    "alg_none": lambda f: _unsigned(f, "none"),
    "alg_none_without_signature_segment": lambda f: _unsigned(f, "none").rsplit(".", 1)[0],
    "alg_None_mixed_case": lambda f: _unsigned(f, "None"),
    # The classic confusion: HMAC keyed with the verifier's public key, in every form it is
    # published or stored.
    "hs256_keyed_with_public_key_raw": lambda f: _hs256(f, f.public_raw()),
    "hs256_keyed_with_public_key_pem": lambda f: _hs256(f, f.public_pem()),
    "hs256_keyed_with_jwk_x": lambda f: _hs256(f, f.jwk["x"].encode()),
    "hs256_keyed_with_jwk_json": lambda f: _hs256(f, json.dumps(f.jwk).encode()),
    "kid_path_traversal_hs256_empty_key": lambda f: _hs256(f, b"", kid="../../../../dev/null"),
    "kid_path_traversal": lambda f: _by_attacker(f, kid="../../../../../../dev/null"),
    "kid_sql_injection": lambda f: _by_attacker(f, kid="x' UNION SELECT 'AAAA' -- "),
    "kid_unknown": lambda f: _by_attacker(f, kid=uuid.uuid4().hex),
    "kid_not_a_string": lambda f: f.signed(header=f.header(kid={"$ne": None})),
    "kid_missing": lambda f: f.signed(header={"alg": "EdDSA", "typ": "JWT"}),
    "other_key_same_kid": lambda f: _by_attacker(f),
    "embedded_jwk_same_kid": lambda f: _by_attacker(f, jwk=_attacker_jwk()),
    "jku_to_attacker_jwks": lambda f: _by_attacker(
        f, kid="attacker", jku="http://127.0.0.1:9/jwks.json"
    ),
    "unknown_crit_extension": lambda f: f.signed(
        header=f.header(crit=["urn:example:must-understand"], **{"urn:example:must-understand": 1})
    ),
    "payload_swapped_after_signing": lambda f: _swap_payload(
        f.signed(), f.claims(sub=str(uuid.uuid4()))
    ),
    "signature_stripped": lambda f: f.signed().rsplit(".", 1)[0] + ".",
    "expired": lambda f: f.signed(f.claims(iat=f.now - 1000, exp=f.now - 100)),
    "not_yet_valid_nbf": lambda f: f.signed(f.claims(nbf=f.now + 600)),
    "issued_in_the_future": lambda f: f.signed(f.claims(iat=f.now + 600, exp=f.now + 1200)),
    "lifetime_too_long": lambda f: f.signed(f.claims(exp=f.now + 86_400)),
    "wrong_aud": lambda f: f.signed(f.claims(aud="sportslog-admin")),
    "aud_list_without_ours": lambda f: f.signed(f.claims(aud=["other", "api"])),
    "wrong_iss": lambda f: f.signed(f.claims(iss="https://evil.example")),
    "iss_with_our_issuer_as_prefix": lambda f: f.signed(f.claims(iss=f.issuer + ".evil.example")),
    "iss_a_substring_of_ours": lambda f: f.signed(f.claims(iss=f.issuer[:-3])),
    "missing_sub": lambda f: _without(f, "sub"),
    "missing_jti": lambda f: _without(f, "jti"),
    "missing_exp": lambda f: _without(f, "exp"),
    "missing_iat": lambda f: _without(f, "iat"),
    "missing_iss": lambda f: _without(f, "iss"),
    "missing_aud": lambda f: _without(f, "aud"),
    "missing_ver": lambda f: _without(f, "ver"),
    "missing_sid": lambda f: _without(f, "sid"),
    "sub_not_a_uuid": lambda f: f.signed(f.claims(sub="' OR '1'='1")),
    "ver_not_a_number": lambda f: f.signed(f.claims(ver="latest")),
    # A 64 KiB header segment: the token is about 87 KiB on the wire.
    "oversized_token": lambda f: _by_attacker(f, pad="A" * 64 * 1024),
    "garbage": lambda f: "A" * 100 + ".%%%.==",
}
# Authorization values that carry no bearer token at all.
NOT_BEARER = {
    "no_header": None,
    "bearer_without_token": "Bearer",
    "basic_scheme": "Basic YWxpY2U6c2VjcmV0",
}


@pytest.fixture(scope="module")
async def forge(stack, smtp_server, signing_key) -> Forge:
    email = f"jwt-{uuid.uuid4().hex[:12]}@example.com"
    async with httpx.AsyncClient(base_url=stack.url("gateway"), timeout=15) as gateway:
        r = await gateway.post("/auth/register", json={"email": email, "password": PASSWORD})
        assert r.status_code == 202
        mail = await smtp_server.wait_for(email)
        token = TOKEN.search(mail.text()).group(1)
        tokens = (await gateway.post("/auth/verify-email", json={"token": token})).json()
        jwks = (await gateway.get("/.well-known/jwks.json")).json()["keys"]
    real = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    kid = jwt.get_unverified_header(tokens["access_token"])["kid"]
    return Forge(
        key=signing_key[1],
        kid=kid,
        jwk=next(k for k in jwks if k["kid"] == kid),
        user={k: real[k] for k in ("sub", "email", "ver", "sid")},
        issuer=stack.jwt_issuer,
        audience=stack.jwt_audience,
    )


async def _auth_failures(client: httpx.AsyncClient) -> float:
    text = (await client.get("/metrics")).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("sportslog_gateway_auth_failures_total{")
    )


@pytest.fixture(scope="module")
async def clients(stack):
    async with contextlib.AsyncExitStack() as exits:
        yield {
            service: await exits.enter_async_context(
                httpx.AsyncClient(base_url=stack.url(service), timeout=15)
            )
            for service in {service for service, _ in TARGETS}
        }


@pytest.mark.parametrize(("service", "path"), TARGETS)
async def test_the_forging_code_makes_tokens_that_pass(clients, forge, service, path):
    """The control: with nothing broken, the hand-made token is accepted everywhere, so each
    refusal below is caused by the one thing its attack changes."""
    r = await clients[service].get(path, headers={"Authorization": "Bearer " + forge.signed()})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(("service", "path"), TARGETS)
@pytest.mark.parametrize("attack", [*ATTACKS, *NOT_BEARER])
async def test_forged_token_is_refused(clients, forge, service, path, attack):
    if attack in ATTACKS:
        headers = {"Authorization": f"Bearer {ATTACKS[attack](forge)}"}
    else:
        value = NOT_BEARER[attack]
        headers = {} if value is None else {"Authorization": value}
    client = clients[service]
    before = await _auth_failures(client) if service == "gateway" else 0.0
    r = await client.get(path, headers=headers)
    after = await _auth_failures(client) if service == "gateway" else 1.0
    # An oversized header may also be refused by size (DESIGN: 413; 431 is HTTP's own).
    allowed = {401, 413, 431} if attack == "oversized_token" else {401}
    assert r.status_code in allowed, (r.status_code, r.text)
    body = r.json()
    assert set(body) <= {"error", "code", "details"}
    assert isinstance(body["error"], str)
    if r.status_code == 401:
        assert body["code"] == "invalid_token"
        assert r.headers["www-authenticate"] == "Bearer"
        # Refused at the door, not by the service behind the gateway.
        assert after == before + 1
    assert r.headers["x-request-id"]
