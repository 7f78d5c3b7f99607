"""Mint access tokens like auth does, and serve their JWKS through httpx.MockTransport.

For suites that verify tokens (activities, gateway) without running auth; tests/e2e uses
the real auth service.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

ISSUER = "http://auth.test"
AUDIENCE = "sportslog"


class TokenMint:
    def __init__(self, issuer: str = ISSUER, audience: str = AUDIENCE) -> None:
        self.issuer = issuer
        self.audience = audience
        self.kid = uuid.uuid4().hex
        self.key = Ed25519PrivateKey.generate()

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(OKPAlgorithm.to_jwk(self.key.public_key()))
        jwk.update(kid=self.kid, alg="EdDSA", use="sig")
        return {"keys": [jwk]}

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(lambda _: httpx.Response(200, json=self.jwks()))

    def token(self, user_id: uuid.UUID | None = None, **overrides: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": str(user_id or uuid.uuid4()),
            "email": "athlete@example.com",
            "ver": 0,
            "sid": str(uuid.uuid4()),
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "exp": now + 900,
            "jti": uuid.uuid4().hex,
        }
        claims.update(overrides)
        return jwt.encode(claims, self.key, algorithm="EdDSA", headers={"kid": self.kid})

    def headers(self, user_id: uuid.UUID | None = None, **overrides: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user_id, **overrides)}"}
