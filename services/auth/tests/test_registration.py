import uuid

import jwt

from sportslog_common.events import UserRegistered


async def test_register_publishes_a_sealed_verification_token(
    client, events, sealer, app, new_email
):
    email = new_email()
    r = await client.post(
        "/auth/register", json={"email": email.upper(), "password": "pw-12345678"}
    )
    assert r.status_code == 202
    assert set(r.json()) == {"message"}
    env = await events.wait_for("user.registered", email)
    data = UserRegistered.model_validate(env.data)
    assert env.producer == "auth"
    token = sealer.open(data.verify_token)
    assert token not in env.model_dump_json()
    async with app.state.pool.acquire() as conn:
        stored = await conn.fetchval(
            "SELECT token_hash FROM pending_registrations WHERE user_id = $1", data.user_id
        )
        hashed = await conn.fetchval(
            "SELECT password_hash FROM pending_registrations WHERE user_id = $1", data.user_id
        )
    assert stored != token
    assert len(stored) == 64
    assert hashed.startswith("$argon2id$")


async def test_verify_email_returns_tokens_and_burns_the_token(
    client, events, sealer, app, new_email
):
    email = new_email()
    await client.post("/auth/register", json={"email": email, "password": "pw-12345678"})
    env = await events.wait_for("user.registered", email)
    token = sealer.open(env.data["verify_token"])
    r = await client.post("/auth/verify-email", json={"token": token})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "EdDSA"
    jwks = (await client.get("/.well-known/jwks.json")).json()
    assert header["kid"] in {k["kid"] for k in jwks["keys"]}
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["email"] == email
    assert claims["ver"] == 0
    assert claims["sub"] == env.data["user_id"]
    async with app.state.pool.acquire() as conn:
        sid = await conn.fetchval(
            "SELECT id FROM sessions WHERE user_id = $1", uuid.UUID(claims["sub"])
        )
    assert claims["sid"] == str(sid)

    again = await client.post("/auth/verify-email", json={"token": token})
    assert again.status_code == 400
    assert again.json()["code"] == "invalid_or_expired_token"


async def test_expired_verify_token_is_refused(client, events, sealer, app, new_email):
    email = new_email()
    await client.post("/auth/register", json={"email": email, "password": "pw-12345678"})
    env = await events.wait_for("user.registered", email)
    async with app.state.pool.acquire() as conn:
        await conn.execute(
            "UPDATE pending_registrations SET expires_at = now() - interval '1 second' WHERE user_id = $1",
            uuid.UUID(env.data["user_id"]),
        )
    r = await client.post(
        "/auth/verify-email", json={"token": sealer.open(env.data["verify_token"])}
    )
    assert r.status_code == 400
    assert r.json()["code"] == "invalid_or_expired_token"


async def test_register_never_tells_whether_an_email_is_taken(client, events, signup, new_email):
    new, unverified, verified = new_email(), new_email(), new_email()
    await client.post("/auth/register", json={"email": unverified, "password": "pw-12345678"})
    await events.wait_for("user.registered", unverified)
    await signup(verified)

    answers = []
    for email in (new, unverified, verified):
        r = await client.post("/auth/register", json={"email": email, "password": "other-pass-1"})
        answers.append((r.status_code, r.json()))
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][0] == 202
    await events.wait_for("user.registered", new)
    await events.wait_for("user.verification_requested", unverified)
    await events.wait_for("user.registration_attempted", verified)


async def test_bad_input_gets_clear_errors(client):
    cases = [
        (
            client.post(
                "/auth/register", content=b"{not json", headers={"content-type": "application/json"}
            ),
            400,
            "invalid_json",
        ),
        (
            client.post("/auth/register", json={"email": 5, "password": ["x"]}),
            422,
            "validation_error",
        ),
        (
            client.post("/auth/register", json={"email": "a@example.com", "password": "x" * 129}),
            422,
            "validation_error",
        ),
        (
            client.post("/auth/register", json={"email": "a@example.com", "password": "short"}),
            422,
            "validation_error",
        ),
        (
            client.post(
                "/auth/register", json={"email": "not-an-email", "password": "long enough"}
            ),
            422,
            "validation_error",
        ),
        (client.post("/auth/register", json={"email": "a@example.com"}), 422, "validation_error"),
        (client.post("/auth/verify-email", json={"token": ""}), 422, "validation_error"),
        (client.get("/auth/nope"), 404, "not_found"),
        (client.get("/auth/register"), 405, "method_not_allowed"),
    ]
    for request, status, code in cases:
        r = await request
        assert r.status_code == status, (r.request.url, r.text)
        assert r.json()["code"] == code
    r = await client.post("/auth/register", json={"email": "a@example.com", "password": "x" * 129})
    assert r.json()["details"] == [
        {"field": "body.password", "message": r.json()["details"][0]["message"]}
    ]
