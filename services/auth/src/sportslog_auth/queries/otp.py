"""One-time code challenges (sign-in codes and phone verification codes)."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from sportslog_common.db import Connection as Conn


async def find_user_for_verified_phone(conn: Conn, phone: str) -> uuid.UUID | None:
    user_id: uuid.UUID | None = await conn.fetchval(
        "SELECT user_id FROM profiles WHERE phone_number = $1 AND phone_verified",
        phone,
    )
    return user_id


async def void_open_challenges(conn: Conn, user_id: uuid.UUID, purpose: str) -> None:
    await conn.execute(
        "UPDATE otp_challenges SET used = true WHERE user_id = $1 AND purpose = $2 AND NOT used",
        user_id,
        purpose,
    )


async def insert_challenge(
    conn: Conn,
    user_id: uuid.UUID,
    purpose: str,
    channel: str,
    destination: str,
    code_hash: str,
    expires_at: datetime,
) -> None:
    await conn.execute(
        """
        INSERT INTO otp_challenges (user_id, purpose, channel, destination, code_hash, expires_at)
        VALUES ($1, $2, $3, $4, $5, $6)
        """,
        user_id,
        purpose,
        channel,
        destination,
        code_hash,
        expires_at,
    )


async def count_attempt_on_open_challenge(
    conn: Conn, user_id: uuid.UUID, purpose: str, destination: str | None
) -> asyncpg.Record | None:
    """Count an attempt on the newest live challenge *before* its code is checked."""
    return await conn.fetchrow(
        """
        UPDATE otp_challenges SET attempts = attempts + 1
        WHERE id = (
            SELECT id FROM otp_challenges
            WHERE user_id = $1 AND purpose = $2 AND NOT used AND expires_at > now()
              AND ($3::text IS NULL OR destination = $3)
            ORDER BY created_at DESC LIMIT 1
            FOR UPDATE
        )
        RETURNING id, destination, channel, code_hash, attempts
        """,
        user_id,
        purpose,
        destination,
    )


async def close_challenge(conn: Conn, challenge_id: uuid.UUID) -> None:
    await conn.execute("UPDATE otp_challenges SET used = true WHERE id = $1", challenge_id)


async def get_user_for_session(conn: Conn, user_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT id, email, token_version FROM users WHERE id = $1", user_id)


async def get_phone(conn: Conn, user_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT phone_number, phone_verified FROM profiles WHERE user_id = $1", user_id
    )


async def mark_phone_verified(conn: Conn, user_id: uuid.UUID, phone: str) -> bool:
    """Verified for this user, and no longer for anyone else: a number has one owner."""
    result = await conn.execute(
        "UPDATE profiles SET phone_verified = true, updated_at = now() "
        "WHERE user_id = $1 AND phone_number = $2",
        user_id,
        phone,
    )
    if not result.endswith(" 1"):
        return False
    await conn.execute(
        "UPDATE profiles SET phone_verified = false, updated_at = now() "
        "WHERE phone_number = $2 AND user_id <> $1 AND phone_verified",
        user_id,
        phone,
    )
    return True
