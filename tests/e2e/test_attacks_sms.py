"""SMS pumping (issue 16 point 3), through the gateway to the Twilio fake: a signed-in
account changing its number and asking for codes sends 5 SMS a day, not 600 a minute, and
putting someone's verified number on one's own profile does not spend that owner's
sign-in codes."""

from __future__ import annotations

import re
import uuid

from sportslog_testing import wait_until

SIX_DIGITS = re.compile(r"\b(\d{6})\b")


def _phone() -> str:
    return f"+1415555{uuid.uuid4().int % 10000:04d}"


async def test_a_signed_in_account_cannot_pump_sms(gateway, user_headers, sms_server):
    numbers = [_phone() for _ in range(6)]
    changes, asks = [], []
    for number in numbers:  # the attack: a new number, then codes to it, again and again
        r = await gateway.put("/me/profile", json={"phone_number": number}, headers=user_headers)
        changes.append(r.status_code)
        for _ in range(3):
            r = await gateway.post("/me/phone/verify-request", headers=user_headers)
            asks.append(r.status_code)
            if r.status_code == 429:
                assert r.json()["code"] == "rate_limited"
                assert int(r.headers["retry-after"]) > 3600
    assert changes == [200, 200, 200, 429, 429, 429]
    assert asks.count(202) == 5
    assert set(asks) == {202, 429}
    delivered = await wait_until(
        lambda: n if (n := sum(len(sms_server.to(x)) for x in numbers)) >= 5 else None,
        message="5 SMS at the Twilio fake",
    )
    assert delivered == 5


async def test_someone_elses_number_does_not_spend_its_owners_sign_in_codes(
    gateway, user_headers, sms_server, new_email, smtp_server
):
    phone = _phone()
    r = await gateway.put("/me/profile", json={"phone_number": phone}, headers=user_headers)
    assert r.status_code == 200
    assert (await gateway.post("/me/phone/verify-request", headers=user_headers)).status_code == 202
    code = SIX_DIGITS.search((await sms_server.wait_for(phone)).body).group(1)  # type: ignore[union-attr]
    r = await gateway.post("/me/phone/verify", json={"code": code}, headers=user_headers)
    assert r.json()["profile"]["phone_verified"] is True

    # Another account claims the number and asks for codes until it is refused.
    email = new_email()
    await gateway.post("/auth/register", json={"email": email, "password": "a long enough secret"})
    token = re.search(r"token=([A-Za-z0-9_\-]+)", (await smtp_server.wait_for(email)).text())
    r = await gateway.post("/auth/verify-email", json={"token": token.group(1)})  # type: ignore[union-attr]
    squatter = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert (
        await gateway.put("/me/profile", json={"phone_number": phone}, headers=squatter)
    ).status_code == 200
    answers = [
        (await gateway.post("/me/phone/verify-request", headers=squatter)).status_code
        for _ in range(3)
    ]
    assert answers == [202, 202, 429]

    # The owner signs in by SMS all the same.
    r = await gateway.post("/auth/otp/request", json={"identifier": phone, "channel": "sms"})
    assert r.status_code == 200
    sign_in = await sms_server.wait_for(phone, count=4)  # 1 + the squatter's 2 + this one
    code = SIX_DIGITS.search(sign_in.body).group(1)  # type: ignore[union-attr]
    r = await gateway.post("/auth/otp/verify", json={"identifier": phone, "code": code})
    assert r.status_code == 200, r.text
