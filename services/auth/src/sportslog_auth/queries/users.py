"""Users and their local credentials (one row each: local_credentials is the password half
of users)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sportslog_auth.queries.rows import one
from sportslog_common.db import Connection as Conn


@dataclass(frozen=True)
class Account:
    """What a session is started for: the `sub`, `email` and `ver` of its tokens."""

    id: uuid.UUID
    email: str
    token_version: int


@dataclass(frozen=True)
class Login:
    """A user with a password, for sign-in."""

    id: uuid.UUID
    email: str
    token_version: int
    password_hash: str
    email_verified: bool

    @property
    def account(self) -> Account:
        return Account(self.id, self.email, self.token_version)


@dataclass(frozen=True)
class SignInMethods:
    has_password: bool
    providers: list[str]


async def find_user_id_by_email(conn: Conn, email: str) -> uuid.UUID | None:
    user_id: uuid.UUID | None = await conn.fetchval("SELECT id FROM users WHERE email = $1", email)
    return user_id


async def insert_user(conn: Conn, email: str) -> uuid.UUID | None:
    """None when the email is taken (a concurrent registration won)."""
    user_id: uuid.UUID | None = await conn.fetchval(
        "INSERT INTO users (email) VALUES ($1) ON CONFLICT (email) DO NOTHING RETURNING id", email
    )
    return user_id


async def lock_verified_state(conn: Conn, user_id: uuid.UUID) -> bool:
    """Whether the address is proven, with the user row locked: concurrent registrations of
    one address take their turns."""
    verified: bool = await conn.fetchval(
        "SELECT email_verified_at IS NOT NULL FROM users WHERE id = $1 FOR UPDATE", user_id
    )
    return verified


async def activate(conn: Conn, user_id: uuid.UUID, password_hash: str | None) -> Account | None:
    """A verification link was used: the address is proven and the attempt's password (if
    it set one) becomes the account's. The user, or None if it is gone."""
    if password_hash is not None:
        await conn.execute(
            """
            INSERT INTO local_credentials (user_id, password_hash, email_verified)
            VALUES ($1, $2, true)
            ON CONFLICT (user_id) DO UPDATE
            SET password_hash = EXCLUDED.password_hash, email_verified = true,
                verify_token_hash = NULL, verify_expires = NULL, updated_at = now()
            """,
            user_id,
            password_hash,
        )
    row = await conn.fetchrow(
        """
        UPDATE users SET email_verified_at = COALESCE(email_verified_at, now())
        WHERE id = $1 RETURNING id, email, token_version
        """,
        user_id,
    )
    return one(Account, row)


async def get_login(conn: Conn, email: str) -> Login | None:
    row = await conn.fetchrow(
        """
        SELECT u.id, u.email, u.token_version, c.password_hash, c.email_verified
        FROM users u JOIN local_credentials c ON c.user_id = u.id
        WHERE u.email = $1
        """,
        email,
    )
    return one(Login, row)


async def update_password_hash(conn: Conn, user_id: uuid.UUID, password_hash: str) -> None:
    await conn.execute(
        "UPDATE local_credentials SET password_hash = $2, updated_at = now() WHERE user_id = $1",
        user_id,
        password_hash,
    )


async def find_local_account_id(conn: Conn, email: str) -> uuid.UUID | None:
    """The user with this email and a password, or None."""
    user_id: uuid.UUID | None = await conn.fetchval(
        "SELECT u.id FROM users u JOIN local_credentials c ON c.user_id = u.id WHERE u.email = $1",
        email,
    )
    return user_id


async def set_reset_token(
    conn: Conn, user_id: uuid.UUID, reset_token_hash: str, reset_expires: datetime
) -> None:
    await conn.execute(
        """
        UPDATE local_credentials
        SET reset_token_hash = $2, reset_expires = $3, updated_at = now()
        WHERE user_id = $1
        """,
        user_id,
        reset_token_hash,
        reset_expires,
    )


async def consume_reset_token(conn: Conn, reset_token_hash: str) -> Account | None:
    """Burn a live reset token; the user it belongs to, or None."""
    row = await conn.fetchrow(
        """
        WITH used AS (
            UPDATE local_credentials
            SET reset_token_hash = NULL, reset_expires = NULL, updated_at = now()
            WHERE reset_token_hash = $1 AND reset_expires > now()
            RETURNING user_id
        )
        SELECT u.id, u.email, u.token_version FROM users u JOIN used ON used.user_id = u.id
        """,
        reset_token_hash,
    )
    return one(Account, row)


async def set_password(conn: Conn, user_id: uuid.UUID, password_hash: str) -> None:
    """A new password; proving control of the mailbox (reset) also verifies the email."""
    await mark_email_verified(conn, user_id)
    await conn.execute(
        """
        UPDATE local_credentials
        SET password_hash = $2, email_verified = true, reset_token_hash = NULL,
            reset_expires = NULL, updated_at = now()
        WHERE user_id = $1
        """,
        user_id,
        password_hash,
    )


async def bump_token_version(conn: Conn, user_id: uuid.UUID) -> int:
    version: int = await conn.fetchval(
        """
        UPDATE users SET token_version = token_version + 1, updated_at = now()
        WHERE id = $1 RETURNING token_version
        """,
        user_id,
    )
    return version


async def get_password_hash(conn: Conn, user_id: uuid.UUID) -> str | None:
    password_hash: str | None = await conn.fetchval(
        "SELECT password_hash FROM local_credentials WHERE user_id = $1", user_id
    )
    return password_hash


async def mark_email_verified(conn: Conn, user_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE users SET email_verified_at = COALESCE(email_verified_at, now()) WHERE id = $1",
        user_id,
    )


async def get_account(conn: Conn, user_id: uuid.UUID) -> Account | None:
    row = await conn.fetchrow("SELECT id, email, token_version FROM users WHERE id = $1", user_id)
    return one(Account, row)


async def lock_account_by_email(conn: Conn, email: str) -> Account | None:
    row = await conn.fetchrow(
        "SELECT id, email, token_version FROM users WHERE email = $1 FOR UPDATE", email
    )
    return one(Account, row)


async def insert_provider_user(conn: Conn, email: str, display_name: str | None) -> Account | None:
    """A new account (and its profile) whose email a sign-in provider verified; None if the
    email was taken meanwhile."""
    row = await conn.fetchrow(
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
    return one(Account, row)


async def lock_sign_in_methods(conn: Conn, user_id: uuid.UUID) -> SignInMethods | None:
    """Lock the user, then list what they can sign in with."""
    row = await conn.fetchrow(
        """
        SELECT EXISTS (SELECT 1 FROM local_credentials c WHERE c.user_id = u.id) AS has_password,
               ARRAY(SELECT provider FROM oauth_connections o WHERE o.user_id = u.id) AS providers
        FROM users u WHERE u.id = $1 FOR UPDATE
        """,
        user_id,
    )
    return one(SignInMethods, row)


async def delete_user(conn: Conn, user_id: uuid.UUID) -> str | None:
    """Hard delete; profiles, credentials, sessions and codes go with it (ON DELETE CASCADE)."""
    email: str | None = await conn.fetchval(
        "DELETE FROM users WHERE id = $1 RETURNING email", user_id
    )
    return email
