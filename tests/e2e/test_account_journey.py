"""Sessions and the profile, through the gateway only."""

import re

import pytest

TOKEN_LINK = re.compile(r"https://app\.example/verify-email\?token=([A-Za-z0-9_\-]+)")


async def signup(gateway, smtp_server, email, password):
    r = await gateway.post("/auth/register", json={"email": email, "password": password})
    assert r.status_code == 202
    mail = await smtp_server.wait_for(email)
    token = TOKEN_LINK.search(mail.text()).group(1)
    r = await gateway.post("/auth/verify-email", json={"token": token})
    assert r.status_code == 200, r.text
    return r.json()


def bearer(tokens):
    return {"Authorization": f"Bearer {tokens['access_token']}"}


@pytest.mark.compose
async def test_refresh_sessions_profile_and_logout(gateway, smtp_server, new_email):
    email, password = new_email(), "a long enough secret"
    first = await signup(gateway, smtp_server, email, password)
    second = (await gateway.post("/auth/login", json={"email": email, "password": password})).json()

    refreshed = await gateway.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert refreshed.status_code == 200
    second = refreshed.json()

    sessions = await gateway.get("/auth/sessions", headers=bearer(second))
    assert sessions.status_code == 200
    assert len(sessions.json()["items"]) == 2

    me = await gateway.put(
        "/me/profile",
        json={"display_name": "Ann", "phone_number": "+44 20 7946 0958"},
        headers=bearer(second),
    )
    assert me.status_code == 200
    assert me.json()["profile"]["phone_number"] == "+442079460958"
    prefs = await gateway.put("/me/preferences", json={"theme": "dark"}, headers=bearer(second))
    assert prefs.json() == {"theme": "dark"}

    assert (await gateway.post("/auth/logout-all", headers=bearer(second))).status_code == 204
    assert (await gateway.get("/me", headers=bearer(first))).status_code == 401
    assert (await gateway.get("/me", headers=bearer(second))).status_code == 200
    assert (await gateway.post("/auth/logout", headers=bearer(second))).status_code == 204
    assert (await gateway.get("/me", headers=bearer(second))).status_code == 401
    assert (await gateway.get("/me")).status_code == 401  # refused at the gateway


async def test_account_deletion_purges_activities(gateway, smtp_server, new_email, stack):
    import asyncpg

    from sportslog_testing import wait_until
    from sportslog_testing.devstack import with_database

    email, password = new_email(), "a long enough secret"
    tokens = await signup(gateway, smtp_server, email, password)
    body = {"activity_type": "run", "started_at": "2026-06-01T07:00:00Z", "duration_secs": 60}
    assert (await gateway.post("/activities", json=body, headers=bearer(tokens))).status_code == 201
    user_id = (await gateway.get("/me", headers=bearer(tokens))).json()["id"]

    r = await gateway.request("DELETE", "/me", json={"password": password}, headers=bearer(tokens))
    assert r.status_code == 204

    # auth published user.deleted; activities consumed it and purged the user's log.
    conn = await asyncpg.connect(with_database(stack.postgres_url, stack.databases["activities"]))
    try:

        async def purged():
            return (
                await conn.fetchval(
                    "SELECT count(*) FROM activities WHERE user_id = $1::uuid", user_id
                )
                == 0
            )

        await wait_until(purged, timeout=15, message="the purge")
    finally:
        await conn.close()
