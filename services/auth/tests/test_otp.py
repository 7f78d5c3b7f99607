import hashlib
import uuid

import pytest


def bearer(tokens: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def request_code(client, events, sealer, identifier, channel="email", **match) -> str:
    r = await client.post("/auth/otp/request", json={"identifier": identifier, "channel": channel})
    assert r.status_code == 200, r.text
    env = await events.wait_for("user.otp_requested", destination=identifier, **match)
    assert env.data["channel"] == channel
    code = sealer.open(env.data["code"])
    assert len(code) == 6
    assert code.isdigit()
    assert code not in env.model_dump_json()
    return code


async def verify(client, identifier, code):
    return await client.post("/auth/otp/verify", json={"identifier": identifier, "code": code})


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_email_code_signs_in_once(client, events, sealer, signup, new_email, app):
    email = new_email()
    await signup(email)
    code = await request_code(client, events, sealer, email)
    r = await verify(client, email.upper(), code)
    assert r.status_code == 200
    assert set(r.json()) == {"access_token", "token_type", "expires_in", "refresh_token"}
    again = await verify(client, email, code)
    assert (again.status_code, again.json()["code"]) == (400, "invalid_code")
    async with app.state.pool.acquire() as conn:
        stored = await conn.fetch(
            "SELECT code_hash FROM otp_challenges c JOIN users u ON u.id = c.user_id WHERE u.email = $1",
            email,
        )
    assert stored
    assert all(
        row["code_hash"] not in (code, hashlib.sha256(code.encode()).hexdigest()) for row in stored
    )


async def test_unknown_identifier_gets_the_same_answer_and_nothing_is_sent(
    client, events, sealer, signup, new_email
):
    known, unknown = new_email(), new_email()
    await signup(known)
    a = await client.post("/auth/otp/request", json={"identifier": unknown, "channel": "email"})
    b = await client.post("/auth/otp/request", json={"identifier": known, "channel": "email"})
    assert (a.status_code, a.json()) == (b.status_code, b.json())
    await events.wait_for("user.otp_requested", destination=known)
    assert not [e for e in events.seen if e.data.get("destination") == unknown]
    r = await verify(client, unknown, "123456")
    assert (r.status_code, r.json()["code"]) == (400, "invalid_code")


async def test_fourth_request_in_a_window_is_429_known_or_not(client, signup, new_email):
    known, unknown = new_email(), new_email()
    await signup(known)
    for identifier in (known, unknown):
        for _ in range(3):
            r = await client.post(
                "/auth/otp/request", json={"identifier": identifier, "channel": "email"}
            )
            assert r.status_code == 200
        r = await client.post(
            "/auth/otp/request", json={"identifier": identifier, "channel": "email"}
        )
        assert (r.status_code, r.json()["code"]) == (429, "rate_limited")
        assert 890 <= int(r.headers["retry-after"]) <= 901


async def test_a_new_code_voids_the_previous_one(client, events, sealer, signup, new_email):
    email = new_email()
    await signup(email)
    first = await request_code(client, events, sealer, email)
    second = await request_code(client, events, sealer, email)
    if first != second:
        assert (await verify(client, email, first)).status_code == 400
    assert (await verify(client, email, second)).status_code == 200


async def test_five_wrong_codes_burn_the_challenge(client, events, sealer, signup, new_email):
    email = new_email()
    await signup(email)
    code = await request_code(client, events, sealer, email)
    for _ in range(5):
        assert (await verify(client, email, wrong(code))).status_code == 400
    assert (await verify(client, email, code)).status_code == 400  # burnt, even the right one


async def test_attempts_are_counted_before_the_check(client, events, sealer, signup, new_email):
    email = new_email()
    await signup(email)
    code = await request_code(client, events, sealer, email)
    for _ in range(4):
        assert (await verify(client, email, wrong(code))).status_code == 400
    assert (await verify(client, email, code)).status_code == 200  # the 5th attempt, right


async def test_expired_code_is_refused(client, events, sealer, signup, new_email, app):
    email = new_email()
    await signup(email)
    code = await request_code(client, events, sealer, email)
    async with app.state.pool.acquire() as conn:
        await conn.execute(
            "UPDATE otp_challenges SET expires_at = now() - interval '1 second'"
            " WHERE user_id = (SELECT id FROM users WHERE email = $1)",
            email,
        )
    assert (await verify(client, email, code)).status_code == 400


async def test_sms_only_to_a_verified_phone(client, events, sealer, signup, new_email):
    tokens = await signup(new_email())
    phone = f"+1415555{uuid.uuid4().int % 10000:04d}"
    r = await client.put("/me/profile", json={"phone_number": phone}, headers=bearer(tokens))
    assert r.status_code == 200, r.text
    phone = r.json()["profile"]["phone_number"]

    await client.post("/auth/otp/request", json={"identifier": phone, "channel": "sms"})
    r = await client.post("/me/phone/verify-request", headers=bearer(tokens))
    assert r.status_code == 202
    env = await events.wait_for("user.phone_verification_requested", phone_number=phone)
    # The sign-in code asked for before verification was never sent.
    assert not [
        e
        for e in events.seen
        if e.type == "user.otp_requested" and e.data.get("destination") == phone
    ]
    code = sealer.open(env.data["code"])
    bad = await client.post("/me/phone/verify", json={"code": wrong(code)}, headers=bearer(tokens))
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_code")
    ok = await client.post("/me/phone/verify", json={"code": code}, headers=bearer(tokens))
    assert ok.status_code == 200
    assert ok.json()["profile"]["phone_verified"] is True

    sms_code = await request_code(client, events, sealer, phone, channel="sms")
    r = await verify(client, phone, sms_code)
    assert r.status_code == 200


async def test_phone_code_does_not_verify_a_number_changed_since(
    client, events, sealer, signup, new_email
):
    tokens = await signup(new_email())
    first = f"+1415555{uuid.uuid4().int % 10000:04d}"
    await client.put("/me/profile", json={"phone_number": first}, headers=bearer(tokens))
    await client.post("/me/phone/verify-request", headers=bearer(tokens))
    env = await events.wait_for("user.phone_verification_requested", phone_number=first)
    await client.put("/me/profile", json={"phone_number": "+442079460958"}, headers=bearer(tokens))
    r = await client.post(
        "/me/phone/verify", json={"code": sealer.open(env.data["code"])}, headers=bearer(tokens)
    )
    assert r.status_code == 400
    me = (await client.get("/me", headers=bearer(tokens))).json()
    assert me["profile"]["phone_verified"] is False


async def test_phone_verification_needs_a_phone(client, signup, new_email):
    tokens = await signup(new_email())
    r = await client.post("/me/phone/verify-request", headers=bearer(tokens))
    assert (r.status_code, r.json()["code"]) == (409, "no_phone_number")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"identifier": "not-an-email", "channel": "email"}, "body.identifier"),
        ({"identifier": "a@example.com", "channel": "sms"}, "body.identifier"),
        ({"identifier": "+1 555", "channel": "sms"}, "body.identifier"),
        ({"identifier": "a@example.com", "channel": "pigeon"}, "body.channel"),
    ],
)
async def test_bad_otp_requests_are_422(client, body, field):
    r = await client.post("/auth/otp/request", json=body)
    assert r.status_code == 422
    assert field in {d["field"] for d in r.json()["details"]}


@pytest.mark.parametrize("code", ["12345", "1234567", "abcdef", "12 456"])
async def test_malformed_codes_are_422(client, code):
    r = await verify(client, "a@example.com", code)
    assert (r.status_code, r.json()["details"][0]["field"]) == (422, "body.code")


async def test_password_less_account_deletes_itself_with_a_fresh_code(
    client, events, sealer, signup, new_email, app
):
    email = new_email()
    tokens = await signup(email)
    async with app.state.pool.acquire() as conn:  # as an OAuth- or code-only account would be
        await conn.execute(
            "DELETE FROM local_credentials WHERE user_id = (SELECT id FROM users WHERE email = $1)",
            email,
        )
    r = await client.request("DELETE", "/me", json={}, headers=bearer(tokens))
    assert (r.status_code, r.json()["code"]) == (403, "reauthentication_required")
    code = await request_code(client, events, sealer, email)
    r = await client.request("DELETE", "/me", json={"code": wrong(code)}, headers=bearer(tokens))
    assert (r.status_code, r.json()["code"]) == (400, "invalid_code")
    r = await client.request("DELETE", "/me", json={"code": code}, headers=bearer(tokens))
    assert r.status_code == 204
    await events.wait_for("user.deleted", email)


async def test_a_password_set_before_the_owner_verified_does_not_survive_a_code_sign_in(
    client, events, sealer, new_email
):
    # An attacker registers the victim's address with their own password and never verifies.
    victim = new_email()
    await client.post("/auth/register", json={"email": victim, "password": "attacker's pw"})
    await events.wait_for("user.registered", victim)
    # The victim later signs in with a code sent to their inbox.
    code = await request_code(client, events, sealer, victim)
    assert (await verify(client, victim, code)).status_code == 200
    # The attacker's password must not now open the (verified) account.
    r = await client.post("/auth/login", json={"email": victim, "password": "attacker's pw"})
    assert r.status_code == 401
    me = (
        await client.get("/me", headers=bearer(await verify_fresh(client, events, sealer, victim)))
    ).json()
    assert me["auth_methods"] == []


async def verify_fresh(client, events, sealer, email):
    code = await request_code(client, events, sealer, email)
    return (await verify(client, email, code)).json()
