"""Revocation at the door: after a logout, a session delete or a password reset, the old
access token is refused by the gateway within a second, on every route."""

import re
import time

import httpx
import jwt
import pytest

from sportslog_testing import wait_until

TOKEN = re.compile(r"token=([A-Za-z0-9_\-]+)")


async def signup(gateway, smtp_server, email, password="a long enough secret"):
    await gateway.post("/auth/register", json={"email": email, "password": password})
    mail = await smtp_server.wait_for(email)
    r = await gateway.post("/auth/verify-email", json={"token": TOKEN.search(mail.text()).group(1)})
    return r.json()


def bearer(tokens):
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def refused_within(gateway, tokens, seconds=1.0) -> float:
    """Seconds until GET /activities (served by activities, which knows nothing of
    sessions) refuses the token at the gateway."""
    started = time.monotonic()

    async def refused():
        return (await gateway.get("/activities", headers=bearer(tokens))).status_code == 401

    await wait_until(refused, timeout=seconds, interval=0.01, message="the revocation")
    return time.monotonic() - started


@pytest.mark.compose
async def test_logout(gateway, smtp_server, new_email):
    tokens = await signup(gateway, smtp_server, new_email())
    assert (await gateway.get("/activities", headers=bearer(tokens))).status_code == 200
    assert (await gateway.post("/auth/logout", headers=bearer(tokens))).status_code == 204
    assert await refused_within(gateway, tokens) < 1.0


@pytest.mark.compose
async def test_session_delete(gateway, smtp_server, new_email):
    email = new_email()
    first = await signup(gateway, smtp_server, email)
    second = (
        await gateway.post("/auth/login", json={"email": email, "password": "a long enough secret"})
    ).json()
    assert (
        await gateway.get("/activities", headers=bearer(first))
    ).status_code == 200  # cached now
    sid = jwt.decode(first["access_token"], options={"verify_signature": False})["sid"]
    assert (
        await gateway.delete(f"/auth/sessions/{sid}", headers=bearer(second))
    ).status_code == 204
    assert await refused_within(gateway, first) < 1.0
    assert (await gateway.get("/activities", headers=bearer(second))).status_code == 200


@pytest.mark.compose
async def test_password_reset_kills_every_token(gateway, smtp_server, new_email):
    email = new_email()
    first = await signup(gateway, smtp_server, email)
    second = (
        await gateway.post("/auth/login", json={"email": email, "password": "a long enough secret"})
    ).json()
    for tokens in (first, second):
        assert (await gateway.get("/activities", headers=bearer(tokens))).status_code == 200
    await gateway.post("/auth/forgot-password", json={"email": email})
    mail = await smtp_server.wait_for(email, count=2)
    r = await gateway.post(
        "/auth/reset-password",
        json={"token": TOKEN.search(mail.text()).group(1), "new_password": "a brand new secret"},
    )
    assert r.status_code == 200
    for tokens in (first, second):
        assert await refused_within(gateway, tokens) < 1.0
    fresh = (
        await gateway.post("/auth/login", json={"email": email, "password": "a brand new secret"})
    ).json()
    assert (await gateway.get("/activities", headers=bearer(fresh))).status_code == 200


@pytest.mark.compose
async def test_a_deleted_accounts_token_is_refused(gateway, smtp_server, new_email):
    tokens = await signup(gateway, smtp_server, new_email())
    assert (await gateway.get("/activities", headers=bearer(tokens))).status_code == 200
    r = await gateway.request(
        "DELETE", "/me", json={"password": "a long enough secret"}, headers=bearer(tokens)
    )
    assert r.status_code == 204
    assert await refused_within(gateway, tokens) < 1.0


RUN = {"activity_type": "run", "started_at": "2026-06-01T07:00:00Z", "duration_secs": 60}


async def activity_count(stack, user_id: str) -> int:
    import asyncpg

    from sportslog_testing.devstack import with_database

    conn = await asyncpg.connect(with_database(stack.postgres_url, stack.databases["activities"]))
    try:
        return int(
            await conn.fetchval("SELECT count(*) FROM activities WHERE user_id = $1::uuid", user_id)
        )
    finally:
        await conn.close()


@pytest.mark.parametrize("revoked_first", [False, True], ids=["valid-first", "revoked-first"])
async def test_a_revoked_token_cannot_ride_behind_a_valid_one(
    gateway, smtp_server, new_email, stack, revoked_first
):
    """The gateway checked one Authorization header and the service read another: two
    headers, or two credentials in one, are refused before anything is checked or written."""
    valid = await signup(gateway, smtp_server, new_email())
    revoked = await signup(gateway, smtp_server, new_email())
    revoked_id = (await gateway.get("/me", headers=bearer(revoked))).json()["id"]
    assert (await gateway.post("/auth/logout", headers=bearer(revoked))).status_code == 204
    await refused_within(gateway, revoked)
    pair = [bearer(valid)["Authorization"], bearer(revoked)["Authorization"]]
    if revoked_first:
        pair.reverse()
    for headers in (
        [("Authorization", value) for value in pair],
        [("Authorization", ", ".join(pair))],
    ):
        r = await gateway.post("/activities", json=RUN, headers=headers)
        assert (r.status_code, r.json()["code"]) == (400, "invalid_request")
        r = await gateway.get("/me", headers=headers)
        assert (r.status_code, r.json()["code"]) == (400, "invalid_request")
    assert await activity_count(stack, revoked_id) == 0


async def test_a_deleted_users_token_writes_nothing_after_the_purge(
    gateway, smtp_server, new_email, stack
):
    password = "a long enough secret"
    valid = await signup(gateway, smtp_server, new_email())
    deleted = await signup(gateway, smtp_server, new_email(), password)
    deleted_id = (await gateway.get("/me", headers=bearer(deleted))).json()["id"]
    assert (await gateway.post("/activities", json=RUN, headers=bearer(deleted))).status_code == 201
    r = await gateway.request("DELETE", "/me", json={"password": password}, headers=bearer(deleted))
    assert r.status_code == 204

    async def purged():
        return await activity_count(stack, deleted_id) == 0

    await wait_until(purged, timeout=15, message="the purge")
    for headers in (
        bearer(deleted),
        [("Authorization", bearer(valid)["Authorization"]), *bearer(deleted).items()],
        [*bearer(deleted).items(), ("Authorization", bearer(valid)["Authorization"])],
    ):
        r = await gateway.post("/activities", json=RUN, headers=headers)
        assert r.status_code in (400, 401), r.text
    assert await activity_count(stack, deleted_id) == 0


async def test_a_reset_while_the_gateway_is_off_the_broker_is_refused_within_a_second(
    gateway, smtp_server, new_email, stack, processes
):
    """The revocation event of a reset made while the gateway's broker connection is cut
    never reaches it (its queue went with the connection): it must re-check the token's
    state instead of trusting its cache for 300 s."""
    from urllib.parse import urlsplit, urlunsplit

    from sportslog_testing.tcp_proxy import TcpProxy

    broker = urlsplit(stack.amqp_url)
    proxy = TcpProxy(broker.hostname or "127.0.0.1", broker.port or 5672)
    await proxy.start()
    try:
        netloc = f"{broker.username}:{broker.password}@127.0.0.1:{proxy.port}"
        config, _ = await processes.start_alone(
            stack, "gateway", amqp_url=urlunsplit(broker._replace(netloc=netloc))
        )
        async with httpx.AsyncClient(base_url=config.url("gateway"), timeout=15) as cut_off:
            email = new_email()
            tokens = await signup(gateway, smtp_server, email)
            assert (await cut_off.get("/activities", headers=bearer(tokens))).status_code == 200

            await proxy.cut()

            async def off_the_broker():
                return (await cut_off.get("/ready")).status_code == 503

            await wait_until(off_the_broker, timeout=10, message="the gateway to see the cut")
            await gateway.post("/auth/forgot-password", json={"email": email})
            mail = await smtp_server.wait_for(email, count=2)
            reset = {"token": TOKEN.search(mail.text()).group(1), "new_password": "a new secret!"}
            assert (await gateway.post("/auth/reset-password", json=reset)).status_code == 200
            assert await refused_within(cut_off, tokens) < 1.0

            await proxy.restore()

            async def back():
                return (await cut_off.get("/ready")).status_code == 200

            await wait_until(back, timeout=30, message="the gateway back on the broker")
            assert (await cut_off.get("/activities", headers=bearer(tokens))).status_code == 401
            login = {"email": email, "password": "a new secret!"}
            fresh = (await gateway.post("/auth/login", json=login)).json()
            assert (await cut_off.get("/activities", headers=bearer(fresh))).status_code == 200
    finally:
        await proxy.stop()
