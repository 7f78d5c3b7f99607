"""Provider connections, spent callback states and one-time exchange codes."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from sportslog_common.db import Connection as Conn


async def spend_state(conn: Conn, state_hash: str, expires_at: datetime) -> bool:
    """False when this callback state was already used (a replayed callback)."""
    spent: str | None = await conn.fetchval(
        """
        INSERT INTO oauth_spent_states (state_hash, expires_at) VALUES ($1, $2)
        ON CONFLICT (state_hash) DO NOTHING RETURNING state_hash
        """,
        state_hash,
        expires_at,
    )
    return spent is not None


async def find_linked_user(conn: Conn, provider: str, provider_uid: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """
        SELECT u.id, u.email, u.token_version
        FROM oauth_connections o JOIN users u ON u.id = o.user_id
        WHERE o.provider = $1 AND o.provider_uid = $2
        """,
        provider,
        provider_uid,
    )


async def lock_user_by_email(conn: Conn, email: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, email, token_version FROM users WHERE email = $1 FOR UPDATE", email
    )


async def insert_oauth_user(
    conn: Conn, email: str, display_name: str | None
) -> asyncpg.Record | None:
    """A new account whose email the provider verified; None if the email was taken meanwhile."""
    return await conn.fetchrow(
        """
        WITH u AS (
            INSERT INTO users (email, email_verified_at) VALUES ($1, now())
            ON CONFLICT (email) DO NOTHING
            RETURNING id, email, token_version
        ), p AS (
            INSERT INTO profiles (user_id, display_name) SELECT id, $2 FROM u
        )
        SELECT id, email, token_version FROM u
        """,
        email,
        display_name,
    )


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


async def sign_in_methods(conn: Conn, user_id: uuid.UUID) -> asyncpg.Record | None:
    """Lock the user, then count what they can sign in with."""
    return await conn.fetchrow(
        """
        SELECT EXISTS (SELECT 1 FROM local_credentials c WHERE c.user_id = u.id) AS has_password,
               ARRAY(SELECT provider FROM oauth_connections o WHERE o.user_id = u.id) AS providers
        FROM users u WHERE u.id = $1 FOR UPDATE
        """,
        user_id,
    )


async def delete_connections(conn: Conn, user_id: uuid.UUID, provider: str) -> int:
    result = await conn.execute(
        "DELETE FROM oauth_connections WHERE user_id = $1 AND provider = $2", user_id, provider
    )
    return int(result.split()[-1])


async def insert_exchange_code(
    conn: Conn,
    code_hash: str,
    user_id: uuid.UUID,
    provider: str,
    code_challenge: str,
    expires_at: datetime,
) -> None:
    await conn.execute(
        """
        INSERT INTO oauth_exchange_codes (code_hash, user_id, provider, code_challenge, expires_at)
        VALUES ($1, $2, $3, $4, $5)
        """,
        code_hash,
        user_id,
        provider,
        code_challenge,
        expires_at,
    )


async def take_exchange_code(conn: Conn, code_hash: str) -> asyncpg.Record | None:
    """Spend a live code: the user it was issued for, or None (unknown, used or expired)."""
    return await conn.fetchrow(
        """
        WITH spent AS (
            DELETE FROM oauth_exchange_codes WHERE code_hash = $1 RETURNING *
        )
        SELECT u.id, u.email, u.token_version, s.provider, s.code_challenge
        FROM spent s JOIN users u ON u.id = s.user_id
        WHERE s.expires_at > now()
        """,
        code_hash,
    )
