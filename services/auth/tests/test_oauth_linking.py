"""oauth/linking.py called with plain values, on the real database."""

import base64
import os
import secrets

import pytest

from sportslog_auth.errors import ConnectionNotFound, EmailNotVerified, LastSignInMethod
from sportslog_auth.oauth import linking
from sportslog_auth.oauth.providers import Identity
from sportslog_auth.queries.users import Account
from sportslog_common.sealing import Sealer

SEALER = Sealer(base64.b64encode(os.urandom(32)).decode(), context=b"sportslog.oauth-token.v1")


def identity(email: str | None, verified: bool = True) -> Identity:
    return Identity(secrets.token_hex(8), email, verified, "Ada")


async def account_for(app, provider: str, who: Identity) -> Account:
    async with app.state.pool.acquire() as conn, conn.transaction():
        return await linking.account_for(conn, SEALER, provider, who, {"access_token": "at"})


class TestAccountFor:
    async def test_opens_an_account_then_signs_the_same_one_in(self, app, new_email):
        who = identity(new_email())
        first = await account_for(app, "google", who)
        assert first.email == who.email
        assert (await account_for(app, "google", who)) == first

    async def test_links_a_verified_email_to_the_existing_account(self, app, new_email):
        email = new_email()
        google = await account_for(app, "google", identity(email))
        assert (await account_for(app, "discord", identity(email.upper()))).id == google.id

    @pytest.mark.parametrize("email", [None, "someone@example.com"])
    async def test_refuses_an_identity_without_a_verified_email(self, app, email):
        with pytest.raises(EmailNotVerified):
            await account_for(app, "discord", identity(email, verified=False))


class TestUnlink:
    async def test_keeps_the_last_way_to_sign_in(self, app, new_email):
        connections, email = app.state.auth.connections, new_email()
        account = await account_for(app, "google", identity(email))
        await account_for(app, "discord", identity(email))

        await connections.unlink(account.id, "google")
        with pytest.raises(ConnectionNotFound):
            await connections.unlink(account.id, "google")
        with pytest.raises(LastSignInMethod):
            await connections.unlink(account.id, "discord")
