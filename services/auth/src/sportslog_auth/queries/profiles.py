"""Profiles (one per user) and the /me view of a user with its profile."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sportslog_auth.queries.rows import one
from sportslog_common.db import Connection as Conn


@dataclass(frozen=True)
class Me:
    id: uuid.UUID
    email: str
    created_at: datetime
    has_password: bool
    email_verified: bool
    providers: list[str]
    display_name: str | None
    preferred_units: Literal["metric", "imperial"]
    phone_number: str | None
    phone_verified: bool
    preferences: dict[str, Any]


async def insert_profile(conn: Conn, user_id: uuid.UUID) -> None:
    await conn.execute("INSERT INTO profiles (user_id) VALUES ($1)", user_id)


async def get_me(conn: Conn, user_id: uuid.UUID) -> Me | None:
    row = await conn.fetchrow(
        """
        SELECT u.id, u.email, u.created_at,
               c.user_id IS NOT NULL AS has_password,
               u.email_verified_at IS NOT NULL OR EXISTS (
                   SELECT 1 FROM oauth_connections o WHERE o.user_id = u.id
               ) AS email_verified,
               ARRAY(SELECT DISTINCT provider FROM oauth_connections o
                     WHERE o.user_id = u.id ORDER BY provider) AS providers,
               p.display_name, p.preferred_units, p.phone_number, p.phone_verified,
               p.preferences
        FROM users u
        JOIN profiles p ON p.user_id = u.id
        LEFT JOIN local_credentials c ON c.user_id = u.id
        WHERE u.id = $1
        """,
        user_id,
    )
    return one(Me, row)


async def lock_phone_number(conn: Conn, user_id: uuid.UUID) -> str | None:
    number: str | None = await conn.fetchval(
        "SELECT phone_number FROM profiles WHERE user_id = $1 FOR UPDATE", user_id
    )
    return number


async def update_profile(conn: Conn, user_id: uuid.UUID, changes: dict[str, Any]) -> None:
    """Set the given columns; a changed phone number becomes unverified."""
    await conn.execute(
        """
        UPDATE profiles SET
            display_name = CASE WHEN $2 THEN $3 ELSE display_name END,
            preferred_units = COALESCE($4, preferred_units),
            phone_verified = CASE
                WHEN $5 AND $6::text IS DISTINCT FROM phone_number THEN false
                ELSE phone_verified END,
            phone_number = CASE WHEN $5 THEN $6 ELSE phone_number END,
            updated_at = now()
        WHERE user_id = $1
        """,
        user_id,
        "display_name" in changes,
        changes.get("display_name"),
        changes.get("preferred_units"),
        "phone_number" in changes,
        changes.get("phone_number"),
    )


async def lock_preferences(conn: Conn, user_id: uuid.UUID) -> dict[str, Any] | None:
    preferences: dict[str, Any] | None = await conn.fetchval(
        "SELECT preferences FROM profiles WHERE user_id = $1 FOR UPDATE", user_id
    )
    return preferences


async def set_preferences(conn: Conn, user_id: uuid.UUID, preferences: dict[str, Any]) -> None:
    await conn.execute(
        "UPDATE profiles SET preferences = $2, updated_at = now() WHERE user_id = $1",
        user_id,
        preferences,
    )


async def find_user_for_verified_phone(conn: Conn, phone: str) -> uuid.UUID | None:
    user_id: uuid.UUID | None = await conn.fetchval(
        "SELECT user_id FROM profiles WHERE phone_number = $1 AND phone_verified",
        phone,
    )
    return user_id


async def get_phone_number(conn: Conn, user_id: uuid.UUID) -> str | None:
    number: str | None = await conn.fetchval(
        "SELECT phone_number FROM profiles WHERE user_id = $1", user_id
    )
    return number


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
