"""One-time codes a flow begun with `?redirect_to=` sends back to the app, for
`POST /auth/oauth/exchange`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sportslog_auth.queries.users import Account
from sportslog_common.db import Connection as Conn


@dataclass(frozen=True)
class SpentCode:
    account: Account
    code_challenge: str  # the app's PKCE S256 challenge


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


async def take_exchange_code(conn: Conn, code_hash: str) -> SpentCode | None:
    """Spend a live code: the user it was issued for, or None (unknown, used or expired)."""
    row = await conn.fetchrow(
        """
        WITH spent AS (
            DELETE FROM oauth_exchange_codes WHERE code_hash = $1 RETURNING *
        )
        SELECT u.id, u.email, u.token_version, s.code_challenge
        FROM spent s JOIN users u ON u.id = s.user_id
        WHERE s.expires_at > now()
        """,
        code_hash,
    )
    if row is None:
        return None
    return SpentCode(Account(row["id"], row["email"], row["token_version"]), row["code_challenge"])
