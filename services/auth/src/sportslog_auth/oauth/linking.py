"""Which account a provider identity signs in, and taking a provider away from one.

A provider identity signs in the account it is linked to. A new identity links to an
existing account only when the provider vouches for the email; an unverified email
neither links nor opens an account (someone could claim another person's address).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import structlog

from sportslog_auth.errors import ConnectionNotFound, EmailNotVerified, LastSignInMethod
from sportslog_auth.metrics import USERS_REGISTERED
from sportslog_auth.oauth.providers import Identity
from sportslog_auth.queries import oauth_connections as connection_sql
from sportslog_auth.queries import pending_registrations as pending_sql
from sportslog_auth.queries import users as user_sql
from sportslog_auth.queries.users import Account
from sportslog_auth.schemas import provider_display_name, provider_email
from sportslog_common.db import Connection, Pool
from sportslog_common.sealing import Sealer

log = structlog.get_logger("sportslog.auth.oauth")


async def account_for(
    conn: Connection, sealer: Sealer, provider: str, identity: Identity, token: dict[str, Any]
) -> Account:
    """The account this identity signs in, linking or creating it; the connection saved
    with the provider's tokens sealed."""
    account = await connection_sql.find_linked_user(conn, provider, identity.uid)
    email = provider_email(identity.email)
    if account is None:
        if email is None or not identity.email_verified:
            raise EmailNotVerified(
                f"Your {provider} account has no email address it has confirmed;"
                " sign in another way"
            )
        account = await user_sql.lock_account_by_email(conn, email)
        if account is None:
            account = await user_sql.insert_provider_user(
                conn, email, provider_display_name(identity.name)
            )
            if account is not None:
                USERS_REGISTERED.inc()
            else:  # registered at this very moment by someone else's request
                account = await user_sql.lock_account_by_email(conn, email)
                assert account is not None
                await _claim_inbox(conn, account.id, provider)
        else:
            await _claim_inbox(conn, account.id, provider)
    access_token, refresh_token = token.get("access_token"), token.get("refresh_token")
    expires_at = token.get("expires_at")
    await connection_sql.upsert_connection(
        conn,
        account.id,
        provider,
        identity.uid,
        email,
        sealer.seal(access_token) if isinstance(access_token, str) else None,
        sealer.seal(refresh_token) if isinstance(refresh_token, str) else None,
        _timestamp(expires_at),
    )
    return account


class ProviderConnections:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def unlink(self, user_id: uuid.UUID, provider: str) -> None:
        """Drop the user's connections to a provider, unless it is their last way in."""
        async with self._pool.acquire() as conn, conn.transaction():
            methods = await user_sql.lock_sign_in_methods(conn, user_id)
            if methods is None or provider not in methods.providers:
                raise ConnectionNotFound()
            others = [p for p in methods.providers if p != provider]
            if not methods.has_password and not others:
                raise LastSignInMethod()
            await connection_sql.delete_connections(conn, user_id, provider)


def _timestamp(value: object) -> datetime | None:
    try:
        return datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else None
    except (OverflowError, OSError, ValueError):
        return None


async def _claim_inbox(conn: Connection, user_id: uuid.UUID, provider: str) -> None:
    """The provider proved the inbox: a password someone set on this address before its
    owner verified it must not survive (pre-account-takeover), as with email codes."""
    await pending_sql.discard_all(conn, user_id)
    await user_sql.mark_email_verified(conn, user_id)
    log.info("oauth_linked_by_email", provider=provider, user_id=str(user_id))
