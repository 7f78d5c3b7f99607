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

from sportslog_auth.client import ClientInfo
from sportslog_auth.errors import InvalidOrExpiredToken
from sportslog_auth.queries import oauth_exchange_codes as code_sql
from sportslog_auth.schemas import TokenResponse
from sportslog_auth.sessions import Sessions
from sportslog_auth.tokens import hash_token, random_token
from sportslog_common.db import Connection, Pool

EXCHANGE_CODE_TTL = timedelta(seconds=60)


async def issue(conn: Connection, user_id: uuid.UUID, provider: str, code_challenge: str) -> str:
    """A fresh code for the user, stored hashed, bound to the app's challenge."""
    code = random_token()
    await code_sql.insert_exchange_code(
        conn,
        hash_token(code),
        user_id,
        provider,
        code_challenge,
        datetime.now(UTC) + EXCHANGE_CODE_TTL,
    )
    return code


class CodeExchange:
    def __init__(self, pool: Pool, sessions: Sessions) -> None:
        self._pool = pool
        self._sessions = sessions

    async def exchange(self, code: str, code_verifier: str, client: ClientInfo) -> TokenResponse:
        """Spend a one-time code from a redirect, with the verifier of the challenge the app
        sent when it began the flow: the tokens of a fresh session."""
        tokens = None
        async with self._pool.acquire() as conn, conn.transaction():
            spent = await code_sql.take_exchange_code(conn, hash_token(code))
            # A wrong verifier burns the code all the same: the delete commits either way.
            if spent is not None and hmac.compare_digest(s256(code_verifier), spent.code_challenge):
                tokens = await self._sessions.start(conn, client, spent.account)
        if tokens is None:
            raise InvalidOrExpiredToken()
        return tokens


def s256(verifier: str) -> str:
    """PKCE's S256 challenge of a verifier (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")
