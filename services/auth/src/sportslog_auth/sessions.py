"""Sessions: one per sign-in, holding the hashed refresh token; each yields a token response."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sportslog_auth import queries
from sportslog_auth.context import AuthContext, ClientInfo
from sportslog_auth.schemas import TokenResponse
from sportslog_auth.tokens import hash_token, random_token
from sportslog_common.db import Connection


async def start_session(
    conn: Connection,
    ctx: AuthContext,
    client: ClientInfo,
    *,
    user_id: uuid.UUID,
    email: str,
    token_version: int,
) -> TokenResponse:
    refresh_token = random_token()
    expires_at = datetime.now(UTC) + timedelta(seconds=ctx.settings.refresh_token_ttl_seconds)
    session_id = await queries.insert_session(
        conn, user_id, hash_token(refresh_token), expires_at, client.user_agent, client.ip
    )
    access_token = ctx.issuer.issue(
        user_id=user_id, email=email, token_version=token_version, session_id=session_id
    )
    return TokenResponse(
        access_token=access_token,
        expires_in=ctx.issuer.ttl_seconds,
        refresh_token=refresh_token,
    )
