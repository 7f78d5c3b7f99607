import uuid

import jwt


def bearer(tokens: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def request_reset(client, events, sealer, email) -> str:
    r = await client.post("/auth/forgot-password", json={"email": email})
    assert r.status_code == 200
    env = await events.wait_for("user.password_reset_requested", email)
    assert "v1." in env.data["reset_token"]
    return sealer.open(env.data["reset_token"])


async def test_forgot_password_answers_alike_and_sends_only_for_known_accounts(
    client, events, signup, new_email
):
    known, unknown = new_email(), new_email()
    await signup(known)
    a = await client.post("/auth/forgot-password", json={"email": unknown})
    b = await client.post("/auth/forgot-password", json={"email": known})
    assert (a.status_code, a.json()) == (b.status_code, b.json())
    await events.wait_for("user.password_reset_requested", known)  # published after `unknown`
    assert not [e for e in events.seen if e.data.get("email") == unknown]


async def test_reset_changes_the_password_and_kills_every_token(
    client, events, sealer, signup, new_email, app
):
    email = new_email()
    first = await signup(email, "old password")
    second = (
        await client.post("/auth/login", json={"email": email, "password": "old password"})
    ).json()
    token = await request_reset(client, events, sealer, email)

    r = await client.post(
        "/auth/reset-password", json={"token": token, "new_password": "new password"}
    )
    assert r.status_code == 200
    assert set(r.json()) == {"message"}

    for tokens in (first, second):
        assert (await client.get("/auth/sessions", headers=bearer(tokens))).status_code == 401
        refreshed = await client.post(
            "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert refreshed.status_code == 401
    old = await client.post("/auth/login", json={"email": email, "password": "old password"})
    assert old.status_code == 401
    new = await client.post("/auth/login", json={"email": email, "password": "new password"})
    assert new.status_code == 200
    assert jwt.decode(new.json()["access_token"], options={"verify_signature": False})["ver"] == 1
    changed = await events.wait_for("user.password_changed", email)
    assert changed.data["token_version"] == 1
    await events.wait_for("user.tokens_revoked", user_id=changed.data["user_id"], token_version=1)


async def test_reset_token_is_single_use_and_expires(
    client, events, sealer, signup, new_email, app
):
    email = new_email()
    await signup(email)
    token = await request_reset(client, events, sealer, email)
    ok = await client.post(
        "/auth/reset-password", json={"token": token, "new_password": "pass word 1"}
    )
    assert ok.status_code == 200
    reused = await client.post(
        "/auth/reset-password", json={"token": token, "new_password": "pass word 2"}
    )
    assert (reused.status_code, reused.json()["code"]) == (400, "invalid_or_expired_token")

    token = await request_reset(client, events, sealer, email)
    async with app.state.pool.acquire() as conn:
        await conn.execute(
            "UPDATE local_credentials SET reset_expires = now() - interval '1 second'"
            " WHERE user_id = (SELECT id FROM users WHERE email = $1)",
            email,
        )
    expired = await client.post(
        "/auth/reset-password", json={"token": token, "new_password": "pass word 3"}
    )
    assert (expired.status_code, expired.json()["code"]) == (400, "invalid_or_expired_token")
    login = await client.post("/auth/login", json={"email": email, "password": "pass word 1"})
    assert login.status_code == 200


async def test_a_reset_token_only_ever_changes_its_own_account(
    client, events, sealer, signup, new_email
):
    victim, attacker = new_email(), new_email()
    await signup(victim, "victim password")
    await signup(attacker, "attacker password")
    attackers_token = await request_reset(client, events, sealer, attacker)
    r = await client.post(
        "/auth/reset-password", json={"token": attackers_token, "new_password": "taken over!"}
    )
    assert r.status_code == 200
    victim_login = await client.post(
        "/auth/login", json={"email": victim, "password": "victim password"}
    )
    assert victim_login.status_code == 200
    hijack = await client.post("/auth/login", json={"email": victim, "password": "taken over!"})
    assert hijack.status_code == 401


async def test_requesting_a_new_reset_link_voids_the_previous_one(
    client, events, sealer, signup, new_email
):
    email = new_email()
    await signup(email)
    first = await request_reset(client, events, sealer, email)
    second = await request_reset(client, events, sealer, email)
    stale = await client.post(
        "/auth/reset-password", json={"token": first, "new_password": "whatever 1"}
    )
    assert stale.status_code == 400
    ok = await client.post(
        "/auth/reset-password", json={"token": second, "new_password": "whatever 2"}
    )
    assert ok.status_code == 200


async def test_change_password(client, signup, new_email, events):
    email = new_email()
    current = await signup(email, "old password")
    other = (
        await client.post("/auth/login", json={"email": email, "password": "old password"})
    ).json()

    wrong = await client.put(
        "/me/password",
        json={"current_password": "nope nope", "new_password": "new password"},
        headers=bearer(current),
    )
    assert (wrong.status_code, wrong.json()["code"]) == (401, "invalid_credentials")
    assert (await client.get("/auth/sessions", headers=bearer(current))).status_code == 200

    r = await client.put(
        "/me/password",
        json={"current_password": "old password", "new_password": "new password"},
        headers=bearer(current),
    )
    assert r.status_code == 200
    fresh = r.json()
    assert set(fresh) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert (await client.get("/auth/sessions", headers=bearer(fresh))).json()["items"][0]["current"]
    for stale in (current, other):
        assert (await client.get("/auth/sessions", headers=bearer(stale))).status_code == 401
    assert (
        await client.post("/auth/login", json={"email": email, "password": "new password"})
    ).status_code == 200
    await events.wait_for("user.password_changed", email)


async def test_change_password_needs_a_token_and_a_valid_new_password(client, signup, new_email):
    tokens = await signup(new_email(), "old password")
    r = await client.put(
        "/me/password", json={"current_password": "old password", "new_password": "new password"}
    )
    assert r.status_code == 401
    r = await client.put(
        "/me/password",
        json={"current_password": "old password", "new_password": "short"},
        headers=bearer(tokens),
    )
    assert (r.status_code, r.json()["details"][0]["field"]) == (422, "body.new_password")


async def test_resend_verification(client, events, sealer, signup, new_email):
    pending, verified, unknown = new_email(), new_email(), new_email()
    await client.post("/auth/register", json={"email": pending, "password": "password 1"})
    first = await events.wait_for("user.registered", pending)
    await signup(verified)
    answers = set()
    for email in (unknown, verified, pending):
        r = await client.post("/auth/resend-verification", json={"email": email})
        answers.add((r.status_code, r.json()["message"]))
    assert len(answers) == 1
    assert answers.pop()[0] == 200
    again = await events.wait_for("user.verification_requested", pending)
    assert not [e for e in events.seen if e.data.get("email") in (unknown, verified)]
    stale = await client.post(
        "/auth/verify-email", json={"token": sealer.open(first.data["verify_token"])}
    )
    assert stale.status_code == 400
    fresh = await client.post(
        "/auth/verify-email", json={"token": sealer.open(again.data["verify_token"])}
    )
    assert fresh.status_code == 200
    assert uuid.UUID(again.data["user_id"])
