"""The one-time code a flow begun with `?redirect_to=` sends back to the app instead of a
token in a URL, and `POST /auth/oauth/exchange`, which spends it for a session.

The app sent a PKCE challenge (S256) when it began the flow and must show the verifier
here: a code an attacker slips into a victim's app (login CSRF) opens nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import UTC, datetime, timedelta

from sportslog_auth.context import AuthContext, ClientInfo
from sportslog_auth.errors import InvalidOrExpiredToken
from sportslog_auth.queries import oauth as oauth_sql
from sportslog_auth.schemas import TokenResponse
from sportslog_auth.sessions import start_user_session
from sportslog_auth.tokens import hash_token, random_token
from sportslog_common.db import Connection

EXCHANGE_CODE_TTL = timedelta(seconds=60)


async def issue(conn: Connection, user_id: uuid.UUID, provider: str, code_challenge: str) -> str:
    """A fresh code for the user, stored hashed, bound to the app's challenge."""
    code = random_token()
    await oauth_sql.insert_exchange_code(
        conn,
        hash_token(code),
        user_id,
        provider,
        code_challenge,
        datetime.now(UTC) + EXCHANGE_CODE_TTL,
    )
    return code


async def exchange(
    ctx: AuthContext, code: str, code_verifier: str, client: ClientInfo
) -> TokenResponse:
    """Spend a one-time code from a redirect, with the verifier of the challenge the app
    sent when it began the flow: the tokens of a fresh session."""
    tokens = None
    async with ctx.pool.acquire() as conn, conn.transaction():
        row = await oauth_sql.take_exchange_code(conn, hash_token(code))
        # A wrong verifier burns the code all the same: the delete commits either way.
        if row is not None and hmac.compare_digest(s256(code_verifier), row["code_challenge"]):
            tokens = await start_user_session(conn, ctx, client, row)
    if tokens is None:
        raise InvalidOrExpiredToken()
    return tokens


def s256(verifier: str) -> str:
    """PKCE's S256 challenge of a verifier (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")
