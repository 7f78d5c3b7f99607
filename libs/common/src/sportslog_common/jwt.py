"""Access-token verification against the auth service's JWKS (DESIGN.md §4, §8).

EdDSA only; `iss` exact, `aud` checked, a short lifetime enforced; keys parsed once and
cached by `kid`; an unknown `kid` triggers a refetch, itself rate-limited so forged kids
cannot make us hammer the JWKS endpoint. `jku`, `x5u` and `jwk` headers are never used.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import structlog

from sportslog_common.errors import InvalidToken

log = structlog.get_logger("sportslog.jwt")

ALGORITHM = "EdDSA"
REQUIRED_CLAIMS = ["exp", "iat", "sub", "iss", "aud", "jti", "ver", "sid"]


@dataclass(frozen=True)
class AccessClaims:
    sub: str
    email: str
    ver: int
    sid: str
    jti: str
    exp: int
    iat: int

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> AccessClaims:
        try:
            return cls(
                sub=str(payload["sub"]),
                email=str(payload.get("email", "")),
                ver=int(payload["ver"]),
                sid=str(payload["sid"]),
                jti=str(payload["jti"]),
                exp=int(payload["exp"]),
                iat=int(payload["iat"]),
            )
        except (KeyError, TypeError, ValueError):
            raise InvalidToken("Token claims are malformed", reason="malformed") from None


class JwksVerifier:
    def __init__(
        self,
        jwks_url: str,
        *,
        issuer: str,
        audience: str,
        http: httpx.AsyncClient | None,
        leeway: int = 30,
        max_lifetime: int = 900,
        refetch_interval: float = 10.0,
        max_age: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._jwks_url = jwks_url
        self._issuer = issuer
        self._audience = audience
        self._http = http
        self._leeway = leeway
        self._max_lifetime = max_lifetime
        self._refetch_interval = refetch_interval
        self._max_age = max_age  # a key removed from the JWKS stops working this soon
        self._clock = clock
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._next_fetch_allowed = 0.0
        self._lock = asyncio.Lock()

    @classmethod
    def for_keys(cls, jwks: dict[str, Any], *, issuer: str, audience: str) -> JwksVerifier:
        """A verifier of a fixed key set, fetching nothing (the issuer checking its own)."""
        verifier = cls("", issuer=issuer, audience=audience, http=None, max_age=float("inf"))
        verifier._load(jwks)
        return verifier

    async def verify(self, token: str) -> AccessClaims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("Token is malformed", reason="malformed") from None
        kid = header.get("kid")
        if header.get("alg") != ALGORITHM or not isinstance(kid, str):
            raise InvalidToken("Token algorithm or key id is not accepted", reason="algorithm")
        key = await self._key(kid)
        try:
            payload = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                issuer=self._issuer,
                audience=self._audience,
                leeway=self._leeway,
                options={"require": REQUIRED_CLAIMS, "strict_aud": True},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("Token has expired", reason="expired") from None
        except jwt.PyJWTError:
            raise InvalidToken("Token is invalid", reason="invalid") from None
        claims = AccessClaims.from_payload(payload)
        if claims.exp - claims.iat > self._max_lifetime + self._leeway:
            raise InvalidToken("Token lifetime is too long", reason="lifetime")
        return claims

    async def _key(self, kid: str) -> Any:
        if self._keys and self._clock() - self._fetched_at > self._max_age:
            async with self._lock:
                if self._clock() - self._fetched_at > self._max_age:
                    await self._refresh()  # on failure the keys we have stay in use
        key = self._keys.get(kid)
        if key is not None:
            return key
        async with self._lock:
            if kid not in self._keys and self._clock() >= self._next_fetch_allowed:
                # The first load is free; refetches for unknown kids are rate-limited.
                limit = bool(self._keys)
                await self._refresh()
                if limit:
                    self._next_fetch_allowed = self._clock() + self._refetch_interval
        key = self._keys.get(kid)
        if key is None:
            raise InvalidToken("Token was signed by an unknown key", reason="unknown_key")
        return key

    async def _refresh(self) -> None:
        if self._http is None:
            return
        try:
            response = await self._http.get(self._jwks_url, timeout=5)
            response.raise_for_status()
            self._load(response.json())
        except (httpx.HTTPError, jwt.PyJWTError, ValueError) as exc:
            log.warning("jwks_fetch_failed", url=self._jwks_url, error=type(exc).__name__)
            now = self._clock()
            self._next_fetch_allowed = now + 1.0
            # Try again in 5 s rather than on every request.
            self._fetched_at = max(self._fetched_at, now - self._max_age + 5.0)

    def _load(self, jwks: dict[str, Any]) -> None:
        keyset = jwt.PyJWKSet.from_dict(jwks)
        self._keys = {
            k.key_id: k.key
            for k in keyset.keys
            if k.key_id and k.key_type == "OKP" and k.algorithm_name in (ALGORITHM, "Ed25519")
        }
        self._fetched_at = self._clock()


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise InvalidToken("Missing bearer token", reason="missing")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("Missing bearer token", reason="missing")
    return token.strip()
