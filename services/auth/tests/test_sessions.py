import base64
import hashlib
import hmac
import json
import time
import uuid

import httpx
import jwt
import pytest
from asgi_lifespan import LifespanManager
from cryptography.hazmat.primitives import serialization
from pydantic import SecretStr

from sportslog_auth.app import create_app
from sportslog_auth.keys import load_signing_keys
from sportslog_common.internal_auth import HEADER, InternalAuth
from sportslog_testing.tokens import TokenMint


def bearer(tokens: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def sid(tokens: dict) -> str:
    return jwt.decode(tokens["access_token"], options={"verify_signature": False})["sid"]


@pytest.fixture
async def account(signup, new_email):
    email = new_email()
    return email, await signup(email, "correct horse")


async def login(client, email, password="correct horse", user_agent="test-agent"):
    r = await client.post(
        "/auth/login",
        json={"email": email, "password": password},
        headers={"User-Agent": user_agent},
    )
    assert r.status_code == 200, r.text
    return r.json()


async def test_refresh_rotates_and_keeps_the_session(client, account):
    _, first = account
    r = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200
    second = r.json()
    assert set(second) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert second["refresh_token"] != first["refresh_token"]
    assert sid(second) == sid(first)
    assert (await client.get("/auth/sessions", headers=bearer(second))).status_code == 200


async def test_replayed_refresh_token_revokes_the_whole_session(
    client, account, events, app, capsys
):
    _, first = account
    second = (
        await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    ).json()
    # From another client: the same one, this soon, would be a refresh race (see
    # test_refresh_races).
    replay = await client.post(
        "/auth/refresh",
        json={"refresh_token": first["refresh_token"]},
        headers={"User-Agent": "thief"},
    )
    assert replay.status_code == 401
    assert replay.json()["code"] == "invalid_token"
    # The thief's copy and the owner's newer token are both dead now.
    later = await client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert later.status_code == 401
    assert (await client.get("/auth/sessions", headers=bearer(second))).status_code == 401
    assert "security_refresh_token_replayed" in capsys.readouterr().out
    await events.wait_for("user.session_revoked", session_id=sid(first))


async def test_unknown_and_expired_refresh_tokens(client, account, app):
    r = await client.post("/auth/refresh", json={"refresh_token": "nope"})
    assert (r.status_code, r.json()["code"]) == (401, "invalid_token")
    _, tokens = account
    async with app.state.pool.acquire() as conn:
        await conn.execute(
            "UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = $1",
            uuid.UUID(sid(tokens)),
        )
    r = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 401


async def test_logout_kills_the_access_and_refresh_token(client, account):
    _, tokens = account
    assert (await client.post("/auth/logout", headers=bearer(tokens))).status_code == 204
    assert (await client.get("/auth/sessions", headers=bearer(tokens))).status_code == 401
    r = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 401


async def test_sessions_list_delete_and_logout_all(client, account):
    email, first = account
    second = await login(client, email, user_agent="phone")
    third = await login(client, email, user_agent="laptop")

    listed = (await client.get("/auth/sessions", headers=bearer(second))).json()["items"]
    assert len(listed) == 3
    assert {s["id"] for s in listed} == {sid(first), sid(second), sid(third)}
    assert [s["current"] for s in listed if s["id"] == sid(second)] == [True]
    assert sum(s["current"] for s in listed) == 1
    assert {s["user_agent"] for s in listed} >= {"phone", "laptop"}
    assert set(listed[0]) == {"id", "created_at", "last_used_at", "user_agent", "ip", "current"}

    r = await client.delete(f"/auth/sessions/{sid(third)}", headers=bearer(second))
    assert r.status_code == 204
    assert (await client.get("/auth/sessions", headers=bearer(third))).status_code == 401
    again = await client.delete(f"/auth/sessions/{sid(third)}", headers=bearer(second))
    assert again.status_code == 404

    assert (await client.post("/auth/logout-all", headers=bearer(second))).status_code == 204
    assert (await client.get("/auth/sessions", headers=bearer(first))).status_code == 401
    mine = (await client.get("/auth/sessions", headers=bearer(second))).json()["items"]
    assert [s["id"] for s in mine] == [sid(second)]


async def test_another_users_session_is_404(client, signup, new_email, account):
    _, mine = account
    theirs = await signup(new_email())
    r = await client.delete(f"/auth/sessions/{sid(theirs)}", headers=bearer(mine))
    assert (r.status_code, r.json()["code"]) == (404, "not_found")
    assert (await client.get("/auth/sessions", headers=bearer(theirs))).status_code == 200


def signed(path: str, key: str, **kwargs) -> dict[str, str]:
    return InternalAuth(key).headers("GET", path, **kwargs)


@pytest.fixture
def internal_key(settings) -> str:
    return settings.internal_api_key.get_secret_value()


async def test_internal_token_state(client, account, internal_key):
    email, first = account
    second = await login(client, email)
    await client.post("/auth/logout", headers=bearer(first))
    user_id = jwt.decode(first["access_token"], options={"verify_signature": False})["sub"]
    path = f"/internal/users/{user_id}/token-state"
    state = (await client.get(path, headers=signed(path, internal_key))).json()
    assert state == {"token_version": 0, "revoked_sessions": [sid(first)]}
    assert sid(second) not in state["revoked_sessions"]
    unknown = f"/internal/users/{uuid.uuid4()}/token-state"
    r = await client.get(unknown, headers=signed(unknown, internal_key))
    assert r.status_code == 404


async def test_internal_endpoints_need_a_signed_call(client, account, internal_key):
    """The network alone does not protect /internal/: an unsigned, wrongly signed, stale or
    replayed-elsewhere call is 401; a key still listed as previous is accepted (rotation)."""
    _, tokens = account
    user_id = jwt.decode(tokens["access_token"], options={"verify_signature": False})["sub"]
    path = f"/internal/users/{user_id}/token-state"
    other = f"/internal/users/{uuid.uuid4()}/token-state"
    for headers in (
        {},
        {HEADER: "v1.1.abc"},
        signed(path, "x" * 32),
        signed(path, internal_key, now=time.time() - 120),
        signed(other, internal_key),  # a signature for another path
    ):
        r = await client.get(path, headers=headers)
        assert (r.status_code, r.json()["code"]) == (401, "invalid_token"), headers


async def test_a_previous_internal_key_is_accepted_during_a_rotation(settings, internal_key):
    rotated = settings.model_copy(
        update={
            "internal_api_key": SecretStr("n" * 32),
            "internal_api_previous_keys": SecretStr(f"{'o' * 32}, {internal_key}"),
        }
    )
    application = create_app(rotated)
    path = f"/internal/users/{uuid.uuid4()}/token-state"
    async with LifespanManager(application, startup_timeout=30, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://auth") as client:
            for key in ("n" * 32, "o" * 32, internal_key):  # accepted: a user nobody has
                assert (await client.get(path, headers=signed(path, key))).status_code == 404
            r = await client.get(path, headers=signed(path, internal_key + "x"))
            assert r.status_code == 401


def _forge(header: dict, claims: dict, key: bytes | None) -> str:
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    sig = b"" if key is None else hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(sig)}"


async def test_forged_tokens_are_refused(client, account, settings):
    _, tokens = account
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    kid = jwt.get_unverified_header(tokens["access_token"])["kid"]
    private_key = load_signing_keys(settings.jwt_private_key_file, []).private_key
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    other = TokenMint(issuer=claims["iss"], audience=claims["aud"])
    forged = {
        "alg none": _forge({"alg": "none", "kid": kid}, claims, None),
        "HS256 with the public key": _forge({"alg": "HS256", "kid": kid}, claims, public_pem),
        "unknown key": other.token(uuid.UUID(claims["sub"]), sid=claims["sid"]),
        "known kid, other key": jwt.encode(
            claims, other.key, algorithm="EdDSA", headers={"kid": kid}
        ),
        "other audience": jwt.encode(
            {**claims, "aud": "another-api"},
            private_key,
            algorithm="EdDSA",
            headers={"kid": kid},
        ),
    }
    for name, token in forged.items():
        r = await client.get("/auth/sessions", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, name
        assert r.json()["code"] == "invalid_token", name
