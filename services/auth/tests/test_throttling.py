"""Brute-force throttling: per account and per client IP, shared through PostgreSQL."""

import httpx
import pytest
from asgi_lifespan import LifespanManager
from prometheus_client import REGISTRY

from sportslog_auth.app import create_app


@pytest.fixture
async def strict(settings):
    """A second auth replica on the same database, with small limits."""
    app = create_app(
        settings.model_copy(
            update={"login_max_failures_per_account": 3, "login_max_failures_per_ip": 5}
        )
    )
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://auth") as c:
            yield c


def from_ip(ip: str) -> dict[str, str]:
    return {"X-Forwarded-For": ip}  # what the gateway sets


async def login(client, email, password, ip="10.0.0.1"):
    return await client.post(
        "/auth/login", json={"email": email, "password": password}, headers=from_ip(ip)
    )


async def test_account_is_locked_after_its_failures_even_with_the_right_password(
    strict, signup, new_email
):
    victim, other = new_email(), new_email()
    await signup(victim, "right password")
    await signup(other, "right password")
    for ip in ("10.1.0.1", "10.1.0.2", "10.1.0.3"):  # from anywhere: the account counts
        assert (await login(strict, victim, "wrong password", ip)).status_code == 401
    locked = await login(strict, victim, "right password", "10.1.0.4")
    assert (locked.status_code, locked.json()["code"]) == (429, "rate_limited")
    assert 890 <= int(locked.headers["retry-after"]) <= 901
    # Another account from the same client still signs in.
    assert (await login(strict, other, "right password", "10.1.0.1")).status_code == 200


async def test_unknown_emails_are_throttled_alike(strict, new_email):
    email = new_email()
    answers = [(await login(strict, email, "guess", "10.2.0.1")).status_code for _ in range(4)]
    assert answers == [401, 401, 401, 429]


async def test_a_success_does_not_reset_the_window(strict, signup, new_email):
    email = new_email()
    await signup(email, "right password")
    assert (await login(strict, email, "wrong 1", "10.3.0.1")).status_code == 401
    assert (await login(strict, email, "wrong 2", "10.3.0.1")).status_code == 401
    assert (await login(strict, email, "right password", "10.3.0.1")).status_code == 200
    assert (await login(strict, email, "wrong 3", "10.3.0.1")).status_code == 401
    assert (await login(strict, email, "right password", "10.3.0.1")).status_code == 429


async def test_client_ip_is_locked_after_its_failures(strict, signup, new_email):
    email = new_email()
    await signup(email, "right password")
    for _ in range(5):
        assert (await login(strict, new_email(), "guess", "10.4.0.1")).status_code == 401
    assert (await login(strict, email, "right password", "10.4.0.1")).status_code == 429
    assert (await login(strict, email, "right password", "10.4.0.2")).status_code == 200


async def test_replicas_share_the_counts(client, strict, signup, new_email):
    # `client` is another replica (default limits) on the same database.
    email = new_email()
    await signup(email, "right password")
    for _ in range(3):
        await client.post(
            "/auth/login", json={"email": email, "password": "wrong"}, headers=from_ip("10.5.0.1")
        )
    assert (await login(strict, email, "right password", "10.5.0.2")).status_code == 429


async def test_wrong_verify_and_reset_tokens_are_throttled_per_ip(strict):
    for path, body in (
        ("/auth/verify-email", {"token": "guess"}),
        ("/auth/reset-password", {"token": "guess", "new_password": "long enough"}),
    ):
        ip = "10.6.0.1" if path.endswith("email") else "10.6.0.2"
        codes = [
            (await strict.post(path, json=body, headers=from_ip(ip))).status_code for _ in range(6)
        ]
        assert codes == [400] * 5 + [429]


async def test_otp_guessing_is_throttled_per_identifier(strict, signup, new_email):
    email = new_email()
    await signup(email)
    codes = []
    for n in range(4):
        r = await strict.post(
            "/auth/otp/verify",
            json={"identifier": email, "code": f"{n:06d}"},
            headers=from_ip(f"10.7.0.{n}"),
        )
        codes.append(r.status_code)
    assert codes == [400, 400, 400, 429]


async def test_throttling_is_counted(strict, new_email):
    before = (
        REGISTRY.get_sample_value("sportslog_auth_throttled_total", {"rule": "login_account"}) or 0
    )
    email = new_email()
    for _ in range(4):
        await login(strict, email, "guess", "10.8.0.1")
    after = REGISTRY.get_sample_value("sportslog_auth_throttled_total", {"rule": "login_account"})
    assert after == before + 1


async def test_password_reauthentication_is_throttled(strict, signup, new_email):
    # A stolen access token must not turn PUT /me/password into a password-guessing oracle.
    tokens = await signup(new_email(), "right password")
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    body = {"current_password": "guess", "new_password": "new password"}
    codes = [
        (await strict.put("/me/password", json=body, headers=headers)).status_code for _ in range(4)
    ]
    assert codes == [401, 401, 401, 429]
    r = await strict.request("DELETE", "/me", json={"password": "right password"}, headers=headers)
    assert r.status_code == 429


async def test_reset_and_verification_mails_are_limited_per_address_known_or_not(
    client, signup, new_email
):
    # One budget per address for the mails we send on request (reset and verification).
    for path in ("/auth/forgot-password", "/auth/resend-verification"):
        known = new_email()
        await signup(known)
        for email in (known, new_email()):
            codes = [(await client.post(path, json={"email": email})).status_code for _ in range(6)]
            assert codes == [200] * 5 + [429], (path, email)
