"""Which account a provider identity signs in, and taking a provider away from one.

A provider identity signs in the account it is linked to. A new identity links to an
existing account only when the provider vouches for the email; an unverified email
neither links nor opens an account (someone could claim another person's address).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from sportslog_auth.context import AuthContext
from sportslog_auth.errors import ConnectionNotFound, EmailNotVerified, LastSignInMethod
from sportslog_auth.metrics import USERS_REGISTERED
from sportslog_auth.oauth.providers import Identity
from sportslog_auth.queries import oauth as oauth_sql
from sportslog_auth.queries import registrations as registrations_sql
from sportslog_auth.queries import users as user_sql
from sportslog_auth.schemas import provider_display_name, provider_email
from sportslog_common.db import Connection
from sportslog_common.sealing import Sealer

log = structlog.get_logger("sportslog.auth.oauth")


@dataclass(frozen=True)
class Account:
    id: uuid.UUID
    email: str
    token_version: int


async def account_for(
    conn: Connection, sealer: Sealer, provider: str, identity: Identity, token: dict[str, Any]
) -> Account:
    """The account this identity signs in, linking or creating it; the connection saved
    with the provider's tokens sealed."""
    row = await oauth_sql.find_linked_user(conn, provider, identity.uid)
    email = provider_email(identity.email)
    if row is None:
        if email is None or not identity.email_verified:
            raise EmailNotVerified(
                f"Your {provider} account has no email address it has confirmed;"
                " sign in another way"
            )
        row = await oauth_sql.lock_user_by_email(conn, email)
        if row is None:
            row = await oauth_sql.insert_oauth_user(
                conn, email, provider_display_name(identity.name)
            )
            if row is not None:
                USERS_REGISTERED.inc()
            else:  # registered at this very moment by someone else's request
                row = await oauth_sql.lock_user_by_email(conn, email)
                assert row is not None
                await _claim_inbox(conn, row["id"], provider)
        else:
            await _claim_inbox(conn, row["id"], provider)
    access_token, refresh_token = token.get("access_token"), token.get("refresh_token")
    expires_at = token.get("expires_at")
    await oauth_sql.upsert_connection(
        conn,
        row["id"],
        provider,
        identity.uid,
        email,
        sealer.seal(access_token) if isinstance(access_token, str) else None,
        sealer.seal(refresh_token) if isinstance(refresh_token, str) else None,
        _timestamp(expires_at),
    )
    return Account(row["id"], row["email"], row["token_version"])


async def unlink(ctx: AuthContext, user_id: uuid.UUID, provider: str) -> None:
    """Drop the user's connections to a provider, unless it is their last way to sign in."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        methods = await oauth_sql.sign_in_methods(conn, user_id)
        if methods is None or provider not in methods["providers"]:
            raise ConnectionNotFound()
        others = [p for p in methods["providers"] if p != provider]
        if not methods["has_password"] and not others:
            raise LastSignInMethod()
        await oauth_sql.delete_connections(conn, user_id, provider)


def _timestamp(value: object) -> datetime | None:
    try:
        return datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else None
    except (OverflowError, OSError, ValueError):
        return None


async def _claim_inbox(conn: Connection, user_id: uuid.UUID, provider: str) -> None:
    """The provider proved the inbox: a password someone set on this address before its
    owner verified it must not survive (pre-account-takeover), as with email codes."""
    await registrations_sql.discard_all(conn, user_id)
    await user_sql.mark_email_verified(conn, user_id)
    log.info("oauth_linked_by_email", provider=provider, user_id=str(user_id))
