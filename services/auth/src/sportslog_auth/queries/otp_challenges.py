"""One-time code challenges (sign-in codes and phone verification codes)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sportslog_auth.queries.rows import one
from sportslog_common.db import Connection as Conn


@dataclass(frozen=True)
class Challenge:
    id: uuid.UUID
    destination: str
    channel: str
    code_hash: str
    attempts: int


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
) -> Challenge | None:
    """Count an attempt on the newest live challenge *before* its code is checked."""
    row = await conn.fetchrow(
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
    return one(Challenge, row)


async def close_challenge(conn: Conn, challenge_id: uuid.UUID) -> None:
    await conn.execute("UPDATE otp_challenges SET used = true WHERE id = $1", challenge_id)
