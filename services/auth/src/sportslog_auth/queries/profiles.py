"""The /me view of a user and its profile."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from sportslog_common.db import Connection as Conn


async def get_me(conn: Conn, user_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
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


async def delete_user(conn: Conn, user_id: uuid.UUID) -> str | None:
    """Hard delete; profiles, credentials, sessions and codes go with it (ON DELETE CASCADE)."""
    email: str | None = await conn.fetchval(
        "DELETE FROM users WHERE id = $1 RETURNING email", user_id
    )
    return email
