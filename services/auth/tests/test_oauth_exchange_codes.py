"""oauth/exchange_codes.py called as plain functions, on the real database."""

import base64
import os
import secrets

import pytest

from sportslog_auth.client import ClientInfo
from sportslog_auth.errors import InvalidOrExpiredToken
from sportslog_auth.oauth import exchange_codes, linking
from sportslog_auth.oauth.providers import Identity
from sportslog_common.sealing import Sealer
from sportslog_testing import pkce_pair

CLIENT = ClientInfo(user_agent="pytest", ip="127.0.0.1")


def test_s256_is_pkces_challenge():
    # RFC 7636, appendix B.
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert exchange_codes.s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


@pytest.fixture
async def code_for(app, new_email):
    """A fresh code for a new account, bound to `challenge`."""
    sealer = Sealer(base64.b64encode(os.urandom(32)).decode())

    async def issue(challenge: str) -> str:
        who = Identity(secrets.token_hex(8), new_email(), True, None)
        async with app.state.pool.acquire() as conn, conn.transaction():
            account = await linking.account_for(conn, sealer, "google", who, {})
            return await exchange_codes.issue(conn, account.id, "google", challenge)

    return issue


async def test_a_code_is_spent_once_with_the_right_verifier(app, code_for):
    verifier, challenge = pkce_pair()
    code = await code_for(challenge)
    tokens = await app.state.auth.code_exchange.exchange(code, verifier, CLIENT)
    assert tokens.token_type == "bearer"
    with pytest.raises(InvalidOrExpiredToken):
        await app.state.auth.code_exchange.exchange(code, verifier, CLIENT)


async def test_a_wrong_verifier_burns_the_code(app, code_for):
    verifier, challenge = pkce_pair()
    code = await code_for(challenge)
    with pytest.raises(InvalidOrExpiredToken):
        await app.state.auth.code_exchange.exchange(code, pkce_pair()[0], CLIENT)
    with pytest.raises(InvalidOrExpiredToken):
        await app.state.auth.code_exchange.exchange(code, verifier, CLIENT)
