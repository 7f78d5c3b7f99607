"""A user's connections to sign-in providers, with the provider's tokens sealed."""

from __future__ import annotations

import uuid
from datetime import datetime

from sportslog_auth.queries.rows import one
from sportslog_auth.queries.users import Account
from sportslog_common.db import Connection as Conn


async def find_linked_user(conn: Conn, provider: str, provider_uid: str) -> Account | None:
    row = await conn.fetchrow(
        """
        SELECT u.id, u.email, u.token_version
        FROM oauth_connections o JOIN users u ON u.id = o.user_id
        WHERE o.provider = $1 AND o.provider_uid = $2
        """,
        provider,
        provider_uid,
    )
    return one(Account, row)


async def upsert_connection(
    conn: Conn,
    user_id: uuid.UUID,
    provider: str,
    provider_uid: str,
    email: str | None,
    access_token: str | None,
    refresh_token: str | None,
    expires_at: datetime | None,
) -> None:
    """Tokens arrive sealed; a refresh token the provider did not send again is kept."""
    await conn.execute(
        """
        INSERT INTO oauth_connections
            (user_id, provider, provider_uid, email, access_token, refresh_token, expires_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (provider, provider_uid) DO UPDATE SET
            email = EXCLUDED.email,
            access_token = EXCLUDED.access_token,
            refresh_token = COALESCE(EXCLUDED.refresh_token, oauth_connections.refresh_token),
            expires_at = EXCLUDED.expires_at,
            updated_at = now()
        """,
        user_id,
        provider,
        provider_uid,
        email,
        access_token,
        refresh_token,
        expires_at,
    )


async def delete_connections(conn: Conn, user_id: uuid.UUID, provider: str) -> int:
    result = await conn.execute(
        "DELETE FROM oauth_connections WHERE user_id = $1 AND provider = $2", user_id, provider
    )
    return int(result.split()[-1])
