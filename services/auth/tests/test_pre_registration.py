"""Pre-registration takeover: whoever registers an address first must not choose the password
its owner later verifies. Each registration is its own pending attempt; its link activates
exactly its password, and no pending password signs in before that."""

from datetime import UTC, datetime, timedelta

SQUATTER = "squatter's password"
OWNER = "the owner's password"


async def register(client, email: str, password: str) -> None:
    r = await client.post("/auth/register", json={"email": email, "password": password})
    assert r.status_code == 202


async def login(client, email: str, password: str):
    return await client.post("/auth/login", json={"email": email, "password": password})


async def verify(client, sealer, env):
    return await client.post(
        "/auth/verify-email", json={"token": sealer.open(env.data["verify_token"])}
    )


async def squatted(client, events, email: str):
    """The squatter registers first, then the owner: (squatter's event, owner's event)."""
    await register(client, email, SQUATTER)
    first = await events.wait_for("user.registered", email)
    await register(client, email, OWNER)
    second = await events.wait_for("user.verification_requested", email)
    return first, second


async def test_the_owners_link_activates_the_owners_password_not_the_squatters(
    client, events, sealer, new_email
):
    email = new_email()
    _, owners = await squatted(client, events, email)
    r = await verify(client, sealer, owners)
    assert r.status_code == 200, r.text
    assert (await login(client, email, SQUATTER)).status_code == 401
    assert (await login(client, email, OWNER)).status_code == 200


async def test_using_one_link_discards_every_other_attempt(client, events, sealer, new_email):
    email = new_email()
    squatters, owners = await squatted(client, events, email)
    # The first mail's link activates the first attempt's password, and only that one.
    assert (await verify(client, sealer, squatters)).status_code == 200
    assert (await login(client, email, OWNER)).status_code == 401
    r = await verify(client, sealer, owners)
    assert (r.status_code, r.json()["code"]) == (400, "invalid_or_expired_token")
    assert (await login(client, email, SQUATTER)).status_code == 200


async def test_no_pending_password_signs_in_before_its_link_is_used(
    client, events, sealer, new_email
):
    email = new_email()
    await squatted(client, events, email)
    for password in (SQUATTER, OWNER):
        r = await login(client, email, password)
        assert r.status_code in (401, 403), r.text
        assert "access_token" not in r.json()
    # The newest attempt's password learns that the address waits for its link.
    r = await login(client, email, OWNER)
    assert (r.status_code, r.json()["code"]) == (403, "email_not_verified")
    r = await login(client, email, SQUATTER)
    assert (r.status_code, r.json()["code"]) == (401, "invalid_credentials")


async def test_a_repeated_registration_is_announced_with_its_time(client, events, new_email):
    email = new_email()
    before = datetime.now(UTC)
    first, second = await squatted(client, events, email)
    assert "repeat_registration_at" not in first.data
    at = datetime.fromisoformat(second.data["repeat_registration_at"])
    assert before <= at <= datetime.now(UTC) + timedelta(seconds=1)
    assert second.data["sets_password"] is True


async def test_a_registration_after_the_links_expired_is_not_called_a_repeat(
    app, client, events, new_email
):
    email = new_email()
    await register(client, email, SQUATTER)
    first = await events.wait_for("user.registered", email)
    async with app.state.pool.acquire() as conn:
        await conn.execute(
            "UPDATE pending_registrations SET expires_at = now() - interval '1 second'"
            " WHERE user_id = $1",
            first.data["user_id"],
        )
    await register(client, email, OWNER)
    again = await events.wait_for("user.verification_requested", email)
    assert again.data["repeat_registration_at"] is None


async def test_a_resend_for_one_attempt_renews_its_link_for_its_password(
    client, events, sealer, new_email
):
    email = new_email()
    await register(client, email, OWNER)
    first = await events.wait_for("user.registered", email)
    assert (await client.post("/auth/resend-verification", json={"email": email})).status_code
    resent = await events.wait_for("user.verification_requested", email)
    assert resent.data["sets_password"] is True
    # The renewed link replaces the first one.
    r = await verify(client, sealer, first)
    assert (r.status_code, r.json()["code"]) == (400, "invalid_or_expired_token")
    assert (await verify(client, sealer, resent)).status_code == 200
    assert (await login(client, email, OWNER)).status_code == 200


async def test_a_resend_while_several_attempts_wait_sets_none_of_their_passwords(
    client, events, sealer, new_email
):
    email = new_email()
    await squatted(client, events, email)
    await client.post("/auth/resend-verification", json={"email": email})
    resent = await events.wait_for("user.verification_requested", email)
    assert resent.data["sets_password"] is False
    r = await verify(client, sealer, resent)
    assert r.status_code == 200, r.text
    me = await client.get("/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"})
    assert me.json()["email_verified"] is True
    for password in (SQUATTER, OWNER):
        assert (await login(client, email, password)).status_code == 401


async def test_a_verified_address_takes_no_more_attempts(client, events, sealer, signup, new_email):
    email = new_email()
    await signup(email, OWNER)
    await register(client, email, SQUATTER)
    await events.wait_for("user.registration_attempted", email)
    assert (await login(client, email, SQUATTER)).status_code == 401
    assert (await login(client, email, OWNER)).status_code == 200


async def test_a_reset_of_an_unverified_address_proves_it_and_discards_every_attempt(
    client, events, sealer, new_email
):
    email = new_email()
    squatters, _ = await squatted(client, events, email)
    assert (await client.post("/auth/forgot-password", json={"email": email})).is_success
    env = await events.wait_for("user.password_reset_requested", email)
    token = sealer.open(env.data["reset_token"])
    r = await client.post(
        "/auth/reset-password", json={"token": token, "new_password": "a fresh password"}
    )
    assert r.status_code == 200, r.text
    assert (await login(client, email, "a fresh password")).status_code == 200
    for password in (SQUATTER, OWNER):
        assert (await login(client, email, password)).status_code == 401
    r = await verify(client, sealer, squatters)
    assert (r.status_code, r.json()["code"]) == (400, "invalid_or_expired_token")
