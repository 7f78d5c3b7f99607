"""Token checks at the door: a protected route never reaches a service without a valid token."""

from __future__ import annotations

import uuid

import aiohttp
from fastapi import Request

from sportslog_common.errors import InvalidRequest, InvalidToken
from sportslog_common.internal_auth import InternalAuth
from sportslog_common.jwt import AccessClaims, JwksVerifier, bearer_token
from sportslog_gateway.metrics import AUTH_FAILURES
from sportslog_gateway.revocations import Fetch, RevocationCache, TokenState


def single_authorization(request: Request) -> str | None:
    """The request's one Authorization value. Two headers, or two values joined by a comma,
    are refused: a gateway that checks one credential while a service reads another lets a
    revoked token ride behind a valid one."""
    values = request.headers.getlist("authorization")
    if len(values) > 1 or any("," in value for value in values):
        raise InvalidRequest("Send exactly one Authorization header with one credential")
    return values[0] if values else None


async def require_token(
    verifier: JwksVerifier, revocations: RevocationCache, authorization: str | None
) -> AccessClaims:
    try:
        claims = await verifier.verify(bearer_token(authorization))
        await revocations.check(claims)
    except InvalidToken as exc:
        AUTH_FAILURES.labels(exc.reason).inc()
        raise
    return claims


def token_state_fetcher(
    session: aiohttp.ClientSession, auth_url: str, internal: InternalAuth
) -> Fetch:
    """Reads a user's token state from auth's internal endpoint (never routed to clients),
    with a call signed by INTERNAL_API_KEY."""

    async def fetch(user_id: uuid.UUID) -> TokenState | None:
        path = f"/internal/users/{user_id}/token-state"
        timeout = aiohttp.ClientTimeout(total=3, connect=1)
        headers = internal.headers("GET", path)
        async with session.get(
            auth_url.rstrip("/") + path, headers=headers, timeout=timeout
        ) as response:
            if response.status == 404:
                return None
            response.raise_for_status()
            body = await response.json()
        return TokenState(
            token_version=int(body["token_version"]),
            revoked_sessions={str(s) for s in body["revoked_sessions"]},
        )

    return fetch
