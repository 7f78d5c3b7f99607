"""Token checks at the door: a protected route never reaches a service without a valid token."""

from __future__ import annotations

from fastapi import Request

from sportslog_common.errors import InvalidToken
from sportslog_common.jwt import AccessClaims, JwksVerifier, bearer_token
from sportslog_gateway.metrics import AUTH_FAILURES


async def require_token(verifier: JwksVerifier, request: Request) -> AccessClaims:
    try:
        return await verifier.verify(bearer_token(request.headers.get("authorization")))
    except InvalidToken as exc:
        AUTH_FAILURES.labels(exc.reason).inc()
        raise
