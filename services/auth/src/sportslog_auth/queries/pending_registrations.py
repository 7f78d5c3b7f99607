"""Pending registrations: each attempt on a not yet verified address, with its own password
hash (NULL: a link that sets none) and its own verification token."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sportslog_auth.queries.rows import many, one
from sportslog_common.db import Connection as Conn

# The attempts kept per address: older ones die, so registering in a loop stores nothing
# more (the gateway's tight limit bounds the loop itself).
MAX_PENDING_PER_USER = 5


@dataclass(frozen=True)
class Attempt:
    id: uuid.UUID
    user_id: uuid.UUID
    sets_password: bool
    live: bool  # not expired


@dataclass(frozen=True)
class Consumed:
    """A spent link: whose it was, and the password it sets (None: it sets none)."""

    user_id: uuid.UUID
    password_hash: str | None


async def insert_pending(
    conn: Conn,
    user_id: uuid.UUID,
    password_hash: str | None,
    token_hash: str,
    expires_at: datetime,
    purpose: str = "verify",
) -> None:
    await conn.execute(
        """
        INSERT INTO pending_registrations (user_id, password_hash, token_hash, expires_at, purpose)
        VALUES ($1, $2, $3, $4, $5)
        """,
        user_id,
        password_hash,
        token_hash,
        expires_at,
        purpose,
    )
    await conn.execute(
        """
        DELETE FROM pending_registrations WHERE id IN (
            SELECT id FROM pending_registrations WHERE user_id = $1
            ORDER BY created_at DESC, id OFFSET $2
        )
        """,
        user_id,
        MAX_PENDING_PER_USER,
    )


async def latest_password_hash(conn: Conn, email: str) -> str | None:
    """The newest pending attempt's password hash, for the login's one verify."""
    password_hash: str | None = await conn.fetchval(
        """
        SELECT p.password_hash
        FROM pending_registrations p JOIN users u ON u.id = p.user_id
        WHERE u.email = $1 AND p.purpose = 'verify' AND p.password_hash IS NOT NULL
          AND p.expires_at > now()
        ORDER BY p.created_at DESC LIMIT 1
        """,
        email,
    )
    return password_hash


async def pending_attempts(conn: Conn, email: str) -> list[Attempt]:
    """The attempts on an unverified address (expired ones too: a resend renews them),
    newest first, locked."""
    rows = await conn.fetch(
        """
        SELECT p.id, p.user_id, p.password_hash IS NOT NULL AS sets_password,
               p.expires_at > now() AS live
        FROM pending_registrations p JOIN users u ON u.id = p.user_id
        WHERE u.email = $1 AND u.email_verified_at IS NULL AND p.purpose = 'verify'
        ORDER BY p.created_at DESC, p.id
        FOR UPDATE OF p
        """,
        email,
    )
    return many(Attempt, rows)


async def renew_token(
    conn: Conn, pending_id: uuid.UUID, token_hash: str, expires_at: datetime
) -> None:
    await conn.execute(
        "UPDATE pending_registrations SET token_hash = $2, expires_at = $3 WHERE id = $1",
        pending_id,
        token_hash,
        expires_at,
    )


async def consume(conn: Conn, token_hash: str, purpose: str = "verify") -> Consumed | None:
    """Burn a live link: the attempt's user and password hash (None if it set none)."""
    row = await conn.fetchrow(
        """
        DELETE FROM pending_registrations
        WHERE token_hash = $1 AND purpose = $2 AND expires_at > now()
        RETURNING user_id, password_hash
        """,
        token_hash,
        purpose,
    )
    return one(Consumed, row)


async def discard_all(conn: Conn, user_id: uuid.UUID) -> None:
    """Once the inbox is proven (a link, a code, a provider), every other attempt dies: a
    password someone set before the owner verified the address never survives it."""
    await conn.execute("DELETE FROM pending_registrations WHERE user_id = $1", user_id)
