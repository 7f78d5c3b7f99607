"""SMS limits (DESIGN.md §9, issue 16 point 3): an account cannot pump SMS by changing its
number, someone else's number cannot spend its owner's sign-in codes, and the deployment
sends at most SMS_DAILY_BUDGET SMS a day, across replicas, falling back to email."""

import asyncio
import uuid

import httpx
import pytest
from asgi_lifespan import LifespanManager
from prometheus_client import REGISTRY

from sportslog_auth.app import create_app

DAY_SECONDS = 24 * 3600
BUDGET = 100


def bearer(tokens: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def new_phone() -> str:
    return f"+1415555{uuid.uuid4().int % 10000:04d}"


@pytest.fixture
async def settings(settings, create_database):
    """A database of its own: the SMS budget is counted deployment-wide."""
    database_url = await create_database("auth_sms")
    return settings.model_copy(update={"database_url": database_url, "sms_daily_budget": BUDGET})


async def set_phone(client, tokens, phone):
    return await client.put("/me/profile", json={"phone_number": phone}, headers=bearer(tokens))


async def ask_phone_code(client, tokens):
    return await client.post("/me/phone/verify-request", headers=bearer(tokens))


async def verified_phone(client, events, sealer, tokens) -> str:
    phone = new_phone()
    assert (await set_phone(client, tokens, phone)).status_code == 200
    assert (await ask_phone_code(client, tokens)).status_code == 202
    env = await events.wait_for("user.phone_verification_requested", phone_number=phone)
    code = sealer.open(env.data["code"])
    r = await client.post("/me/phone/verify", json={"code": code}, headers=bearer(tokens))
    assert r.json()["profile"]["phone_verified"] is True
    return phone


async def ask_sign_in_code(client, identifier, channel="sms"):
    return await client.post(
        "/auth/otp/request", json={"identifier": identifier, "channel": channel}
    )


async def spend_all_but(app, left: int) -> None:
    """As if other accounts had sent SMS today: `left` remain of the budget."""
    async with app.state.pool.acquire() as conn:
        sent = await conn.fetchval("SELECT count(*) FROM sms_sends")
        await conn.execute(
            "INSERT INTO sms_sends (country) SELECT '+1' FROM generate_series(1, $1)",
            BUDGET - left - sent,
        )


async def sends(app) -> int:
    async with app.state.pool.acquire() as conn:
        return await conn.fetchval("SELECT count(*) FROM sms_sends")


def assert_rate_limited_for_a_day(r):
    assert (r.status_code, r.json()["code"]) == (429, "rate_limited"), r.text
    assert DAY_SECONDS - 60 <= int(r.headers["retry-after"]) <= DAY_SECONDS + 1


async def test_phone_codes_are_5_per_account_a_day_whatever_the_number(
    client, app, signup, new_email
):
    tokens = await signup(new_email())
    for phone, asks in ((new_phone(), 3), (new_phone(), 2)):
        assert (await set_phone(client, tokens, phone)).status_code == 200
        for _ in range(asks):
            assert (await ask_phone_code(client, tokens)).status_code == 202
    # A third number has not had a code yet: the account's five a day are spent.
    assert (await set_phone(client, tokens, new_phone())).status_code == 200
    assert_rate_limited_for_a_day(await ask_phone_code(client, tokens))
    assert await sends(app) == 5


async def test_three_new_numbers_a_day_then_429(client, app, signup, new_email):
    tokens = await signup(new_email())
    numbers = [new_phone() for _ in range(3)]
    for phone in numbers:
        assert (await set_phone(client, tokens, phone)).status_code == 200
    r = await set_phone(client, tokens, new_phone())
    assert_rate_limited_for_a_day(r)
    me = (await client.get("/me", headers=bearer(tokens))).json()
    assert me["profile"]["phone_number"] == numbers[-1]  # the refused change changed nothing
    # What is not a new number still goes through.
    assert (await set_phone(client, tokens, numbers[-1])).status_code == 200
    r = await client.put("/me/profile", json={"display_name": "Ann"}, headers=bearer(tokens))
    assert r.status_code == 200
    assert (await set_phone(client, tokens, None)).status_code == 200


async def test_someone_elses_number_cannot_spend_its_owners_sign_in_codes(
    client, app, events, sealer, signup, new_email
):
    owner = await signup(new_email())
    phone = await verified_phone(client, events, sealer, owner)
    squatter = await signup(new_email())
    assert (await set_phone(client, squatter, phone)).status_code == 200
    # The squatter spends the number's phone-verification allowance (3 in 15 min, one used
    # by the owner's verification) ...
    answers = [(await ask_phone_code(client, squatter)).status_code for _ in range(3)]
    assert answers == [202, 202, 429]
    # ... and the owner still gets each of their three sign-in codes by SMS.
    for _ in range(3):
        assert (await ask_sign_in_code(client, phone)).status_code == 200
        await events.wait_for("user.otp_requested", destination=phone)
    assert (await ask_sign_in_code(client, phone)).status_code == 429


async def test_a_spent_budget_is_503_sms_unavailable_with_email_as_the_fallback(
    client, app, events, sealer, signup, new_email
):
    email = new_email()
    tokens = await signup(email)
    phone = await verified_phone(client, events, sealer, tokens)
    await spend_all_but(app, 2)
    sent_before = REGISTRY.get_sample_value("sportslog_sms_sent_total", {"country": "+1"}) or 0
    for _ in range(2):  # the last two
        assert (await ask_sign_in_code(client, phone)).status_code == 200
        await events.wait_for("user.otp_requested", destination=phone)
    assert REGISTRY.get_sample_value("sportslog_sms_sent_total", {"country": "+1"}) == (
        sent_before + 2
    )
    assert REGISTRY.get_sample_value("sportslog_sms_budget_used_ratio") == 1.0

    refused = await ask_sign_in_code(client, phone)
    nobodys = await ask_sign_in_code(client, new_phone())
    for r in (refused, nobodys):  # the same answer, owned or not
        assert r.status_code == 503
        assert r.json() == {
            "error": "SMS cannot be sent right now; use email instead or try again later",
            "code": "sms_unavailable",
            "details": {"fallback": "email"},
        }
        assert DAY_SECONDS - 60 <= int(r.headers["retry-after"]) <= DAY_SECONDS + 1
    # Phone verification waits too; email is untouched.
    assert (await set_phone(client, tokens, new_phone())).status_code == 200
    r = await ask_phone_code(client, tokens)
    assert (r.status_code, r.json()["code"]) == (503, "sms_unavailable")
    assert (await ask_sign_in_code(client, email, "email")).status_code == 200
    await events.wait_for("user.otp_requested", destination=email)
    assert await sends(app) == BUDGET  # a refused SMS is not counted
    async with app.state.pool.acquire() as conn:
        assert await conn.fetchval("SELECT array_agg(DISTINCT country) FROM sms_sends") == ["+1"]


async def test_replicas_spend_one_budget_exactly(settings, app, signup, new_email, events, sealer):
    """Two auth processes on one database: with one SMS left, two requests at the same
    instant, one on each, send exactly one."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://auth") as first:
        a, b = await signup(new_email()), await signup(new_email())
        phones = [await verified_phone(first, events, sealer, t) for t in (a, b)]
    await spend_all_but(app, 1)
    other = create_app(settings)
    async with LifespanManager(other, startup_timeout=30, shutdown_timeout=30):
        replicas = [httpx.ASGITransport(app=x) for x in (app, other)]
        clients = [httpx.AsyncClient(transport=t, base_url="http://auth") for t in replicas]
        answers = await asyncio.gather(
            *(ask_sign_in_code(c, p) for c, p in zip(clients, phones, strict=True))
        )
        for c in clients:
            await c.aclose()
    assert sorted(r.status_code for r in answers) == [200, 503]
    assert await sends(app) == BUDGET
