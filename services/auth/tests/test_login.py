import time

import httpx
import pytest
from asgi_lifespan import LifespanManager

from sportslog_auth.app import create_app
from sportslog_auth.settings import AuthSettings


async def test_login_returns_a_token_response(client, signup, new_email):
    email = new_email()
    await signup(email, "correct horse")
    r = await client.post("/auth/login", json={"email": email.upper(), "password": "correct horse"})
    assert r.status_code == 200
    assert set(r.json()) == {"access_token", "token_type", "expires_in", "refresh_token"}


async def test_unknown_email_and_wrong_password_look_the_same(client, signup, new_email):
    email = new_email()
    await signup(email, "correct horse")
    wrong = await client.post("/auth/login", json={"email": email, "password": "wrong horse"})
    unknown = await client.post(
        "/auth/login", json={"email": new_email(), "password": "wrong horse"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json()
        == unknown.json()
        == {"error": "Invalid email or password", "code": "invalid_credentials"}
    )


async def test_unknown_email_costs_what_a_wrong_password_costs(settings, signup, new_email):
    # With production argon2 parameters a verify (~20 ms) dwarfs the request overhead, so
    # an unknown email answered without the dummy verify would be several times faster.
    production = settings.model_copy(
        update={"argon2_time_cost": 2, "argon2_memory_kib": 19456, "argon2_parallelism": 1}
    )
    app = create_app(production)
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://auth") as client:
            email = new_email()
            await signup(email, "correct horse")
            # A verify costs what the stored hash's parameters say: store a production one.
            production_hash = await app.state.auth.passwords.hash("correct horse")
            async with app.state.pool.acquire() as conn:
                await conn.execute(
                    "UPDATE local_credentials SET password_hash = $2"
                    " WHERE user_id = (SELECT id FROM users WHERE email = $1)",
                    email,
                    production_hash,
                )

            async def timed(body) -> float:
                started = time.perf_counter()
                r = await client.post("/auth/login", json=body)
                assert r.status_code == 401
                return time.perf_counter() - started

            # Interleaved, best of 8 each: a busy machine slows both alike.
            wrong = unknown = float("inf")
            for _ in range(8):
                wrong = min(wrong, await timed({"email": email, "password": "wrong horse"}))
                unknown = min(unknown, await timed({"email": new_email(), "password": "x y"}))
    assert unknown > wrong * 0.5, (unknown, wrong)


async def test_unverified_account_gets_403_only_with_the_right_password(client, events, new_email):
    email = new_email()
    await client.post("/auth/register", json={"email": email, "password": "correct horse"})
    await events.wait_for("user.registered", email)
    r = await client.post("/auth/login", json={"email": email, "password": "correct horse"})
    assert r.status_code == 403
    assert r.json()["code"] == "email_not_verified"
    r = await client.post("/auth/login", json={"email": email, "password": "wrong horse"})
    assert r.status_code == 401


async def test_login_rehashes_when_parameters_changed(app, client, signup, new_email):
    email = new_email()
    await signup(email, "correct horse")
    async with app.state.pool.acquire() as conn:
        await conn.execute(
            "UPDATE local_credentials SET password_hash = $2 WHERE user_id = (SELECT id FROM users WHERE email = $1)",
            email,
            # argon2id of "correct horse" with other parameters (t=1, m=32 KiB)
            await _hash_with(app, "correct horse", memory_kib=32),
        )
    r = await client.post("/auth/login", json={"email": email, "password": "correct horse"})
    assert r.status_code == 200
    async with app.state.pool.acquire() as conn:
        stored = await conn.fetchval(
            "SELECT password_hash FROM local_credentials c JOIN users u ON u.id = c.user_id WHERE u.email = $1",
            email,
        )
    assert "m=64," in stored


async def _hash_with(app, password, memory_kib):
    from sportslog_auth.passwords import Passwords

    other = Passwords(1, memory_kib, 1)
    try:
        return await other.hash(password)
    finally:
        other.close()


def test_production_argon2_parameters_are_owasp(monkeypatch):
    for name in ("ARGON2_TIME_COST", "ARGON2_MEMORY_KIB", "ARGON2_PARALLELISM"):
        monkeypatch.delenv(name, raising=False)
    fields = AuthSettings.model_fields
    assert fields["argon2_time_cost"].default == 2
    assert fields["argon2_memory_kib"].default == 19456
    assert fields["argon2_parallelism"].default == 1


async def test_production_hash_uses_argon2id_with_those_parameters():
    from sportslog_auth.passwords import Passwords

    passwords = Passwords(2, 19456, 1)
    try:
        hashed = await passwords.hash("pw")
    finally:
        passwords.close()
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


@pytest.mark.parametrize("password", ["", "x" * 129])
async def test_login_bad_input(client, password):
    r = await client.post("/auth/login", json={"email": "a@example.com", "password": password})
    assert r.status_code == 422
