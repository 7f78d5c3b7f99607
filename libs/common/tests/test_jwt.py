import base64
import json
import time
import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from sportslog_common.errors import InvalidToken
from sportslog_common.jwt import JwksVerifier, bearer_token

ISS, AUD = "https://auth.test", "sportslog"


class KeyServer:
    """Serves a JWKS through httpx.MockTransport and counts the fetches."""

    def __init__(self) -> None:
        self.keys: dict[str, Ed25519PrivateKey] = {}
        self.fetches = 0

    def add(self, kid: str) -> Ed25519PrivateKey:
        self.keys[kid] = Ed25519PrivateKey.generate()
        return self.keys[kid]

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.fetches += 1
        jwks = []
        for kid, key in self.keys.items():
            jwk = json.loads(OKPAlgorithm.to_jwk(key.public_key()))
            jwk.update(kid=kid, alg="EdDSA", use="sig")
            jwks.append(jwk)
        return httpx.Response(200, json={"keys": jwks})


def claims(**overrides):
    now = int(time.time())
    base = {
        "sub": str(uuid.uuid4()),
        "email": "a@b.c",
        "ver": 0,
        "sid": str(uuid.uuid4()),
        "iss": ISS,
        "aud": AUD,
        "iat": now,
        "exp": now + 900,
        "jti": uuid.uuid4().hex,
    }
    base.update(overrides)
    return base


def sign(key, kid="k1", **overrides):
    return jwt.encode(claims(**overrides), key, algorithm="EdDSA", headers={"kid": kid})


@pytest.fixture
async def setup():
    server = KeyServer()
    key = server.add("k1")
    async with httpx.AsyncClient(transport=httpx.MockTransport(server.handler)) as http:
        verifier = JwksVerifier(
            "http://auth/jwks", issuer=ISS, audience=AUD, http=http, refetch_interval=60
        )
        yield server, key, verifier


async def test_valid_token(setup):
    _, key, verifier = setup
    c = await verifier.verify(sign(key))
    assert c.ver == 0
    assert c.email == "a@b.c"


async def test_keys_are_cached(setup):
    server, key, verifier = setup
    for _ in range(5):
        await verifier.verify(sign(key))
    assert server.fetches == 1


async def test_unknown_kid_triggers_one_refetch_then_rate_limited(setup):
    server, key, verifier = setup
    await verifier.verify(sign(key))
    rotated = server.add("k2")  # rotation: a new key appears in the JWKS
    assert (await verifier.verify(sign(rotated, kid="k2"))).sub
    assert server.fetches == 2
    for _ in range(3):  # forged kids cannot make us hammer the JWKS endpoint
        with pytest.raises(InvalidToken, match="unknown key"):
            await verifier.verify(sign(key, kid="forged"))
    assert server.fetches == 2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"iss": "https://auth.test.evil"}, "invalid"),
        ({"iss": "auth.test"}, "invalid"),
        ({"aud": "other-service"}, "invalid"),
        ({"exp": int(time.time()) - 120}, "expired"),
        ({"iat": int(time.time()), "exp": int(time.time()) + 86400}, "lifetime"),
    ],
)
async def test_claims_are_checked(setup, overrides, message):
    _, key, verifier = setup
    with pytest.raises(InvalidToken, match=message):
        await verifier.verify(sign(key, **overrides))


async def test_missing_required_claim(setup):
    _, key, verifier = setup
    payload = claims()
    del payload["sid"]
    token = jwt.encode(payload, key, algorithm="EdDSA", headers={"kid": "k1"})
    with pytest.raises(InvalidToken):
        await verifier.verify(token)


async def test_alg_none_is_refused(setup):
    _, _, verifier = setup
    header = base64.urlsafe_b64encode(b'{"alg":"none","kid":"k1"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(claims()).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidToken):
        await verifier.verify(f"{header}.{body}.")


async def test_hs256_signed_with_the_public_key_is_refused(setup):
    _, key, verifier = setup
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    import hashlib
    import hmac

    header = base64.urlsafe_b64encode(b'{"alg":"HS256","kid":"k1","typ":"JWT"}').rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(claims()).encode()).rstrip(b"=")
    sig = hmac.new(public_pem, header + b"." + body, hashlib.sha256).digest()
    token = b".".join([header, body, base64.urlsafe_b64encode(sig).rstrip(b"=")]).decode()
    with pytest.raises(InvalidToken):
        await verifier.verify(token)


async def test_token_signed_by_an_unknown_key_with_a_known_kid(setup):
    _, _, verifier = setup
    impostor = Ed25519PrivateKey.generate()
    with pytest.raises(InvalidToken, match="invalid"):
        await verifier.verify(sign(impostor, kid="k1"))


async def test_tampered_token(setup):
    _, key, verifier = setup
    head, body, sig = sign(key).split(".")
    forged = json.loads(base64.urlsafe_b64decode(body + "=="))
    forged["sub"] = str(uuid.uuid4())
    body = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidToken):
        await verifier.verify(f"{head}.{body}.{sig}")


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer", "Bearer   "])
def test_bearer_token_parsing_refuses(header):
    with pytest.raises(InvalidToken):
        bearer_token(header)


def test_bearer_token_parsing():
    assert bearer_token("Bearer abc.def") == "abc.def"


async def test_a_key_removed_from_the_jwks_stops_working_after_max_age():
    server = KeyServer()
    key = server.add("k1")
    now = [1000.0]
    async with httpx.AsyncClient(transport=httpx.MockTransport(server.handler)) as http:
        verifier = JwksVerifier(
            "http://auth/jwks",
            issuer=ISS,
            audience=AUD,
            http=http,
            max_age=300,
            clock=lambda: now[0],
        )
        await verifier.verify(sign(key))
        del server.keys["k1"]  # retired (e.g. leaked) key
        server.add("k2")
        now[0] += 200
        await verifier.verify(sign(key))  # still cached: within max_age
        assert server.fetches == 1
        now[0] += 101
        with pytest.raises(InvalidToken, match="unknown key"):
            await verifier.verify(sign(key))
        assert server.fetches == 3  # the max-age refresh, then one (rate-limited) kid lookup
        with pytest.raises(InvalidToken, match="unknown key"):
            await verifier.verify(sign(key))
        assert server.fetches == 3


async def test_jwks_outage_keeps_the_cached_keys():
    server = KeyServer()
    key = server.add("k1")
    now = [0.0]
    up = [True]

    def handler(request):
        return server.handler(request) if up[0] else httpx.Response(503)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        verifier = JwksVerifier(
            "http://auth/jwks",
            issuer=ISS,
            audience=AUD,
            http=http,
            max_age=300,
            clock=lambda: now[0],
        )
        await verifier.verify(sign(key))
        up[0] = False
        now[0] += 400
        assert (await verifier.verify(sign(key))).sub  # auth down: the known key still works
