"""Access tokens (EdDSA JWT) and the opaque random tokens we only ever store hashed."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass

import jwt

from sportslog_auth.keys import SigningKeys


def random_token() -> str:
    """32 random bytes, URL-safe: verify, reset and refresh tokens."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class AccessTokenIssuer:
    keys: SigningKeys
    issuer: str
    audience: str
    ttl_seconds: int

    def issue(
        self, *, user_id: uuid.UUID, email: str, token_version: int, session_id: uuid.UUID
    ) -> str:
        now = int(time.time())
        claims = {
            "sub": str(user_id),
            "email": email,
            "ver": token_version,
            "sid": str(session_id),
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "exp": now + self.ttl_seconds,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(
            claims, self.keys.private_key, algorithm="EdDSA", headers={"kid": self.keys.kid}
        )
