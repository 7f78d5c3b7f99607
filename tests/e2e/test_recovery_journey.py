"""Password reset, sign-in codes by email and SMS, and phone verification: through the
gateway, reading the messages from the SMTP and Twilio fakes."""

import re
import uuid

import pytest

TOKEN = re.compile(r"token=([A-Za-z0-9_\-]+)")
CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


async def signup(gateway, smtp_server, email, password):
    await gateway.post("/auth/register", json={"email": email, "password": password})
    mail = await smtp_server.wait_for(email)
    r = await gateway.post("/auth/verify-email", json={"token": TOKEN.search(mail.text()).group(1)})
    assert r.status_code == 200
    return r.json()


def bearer(tokens):
    return {"Authorization": f"Bearer {tokens['access_token']}"}


@pytest.mark.compose
async def test_password_reset_journey(gateway, smtp_server, new_email):
    email = new_email()
    old = await signup(gateway, smtp_server, email, "the old password")
    r = await gateway.post("/auth/forgot-password", json={"email": email})
    assert r.status_code == 200
    mail = await smtp_server.wait_for(email, count=2)
    assert mail.subject.startswith("Reset your")
    token = TOKEN.search(mail.text()).group(1)
    r = await gateway.post(
        "/auth/reset-password", json={"token": token, "new_password": "the new password"}
    )
    assert r.status_code == 200
    assert (await gateway.get("/me", headers=bearer(old))).status_code == 401
    notice = await smtp_server.wait_for(email, count=3)
    assert "password was changed" in notice.subject
    r = await gateway.post("/auth/login", json={"email": email, "password": "the new password"})
    assert r.status_code == 200


@pytest.mark.compose
async def test_sign_in_with_an_emailed_code(gateway, smtp_server, new_email):
    email = new_email()
    await signup(gateway, smtp_server, email, "some password")
    r = await gateway.post("/auth/otp/request", json={"identifier": email, "channel": "email"})
    assert r.status_code == 200
    mail = await smtp_server.wait_for(email, count=2)
    code = CODE.findall(mail.text())[0]
    r = await gateway.post("/auth/otp/verify", json={"identifier": email, "code": code})
    assert r.status_code == 200
    assert (await gateway.get("/me", headers=bearer(r.json()))).json()["email"] == email


async def test_verify_a_phone_then_sign_in_by_sms(gateway, smtp_server, sms_server, new_email):
    tokens = await signup(gateway, smtp_server, new_email(), "some password")
    number = f"+1415555{uuid.uuid4().int % 10000:04d}"
    r = await gateway.put("/me/profile", json={"phone_number": number}, headers=bearer(tokens))
    assert r.status_code == 200
    assert (
        await gateway.post("/me/phone/verify-request", headers=bearer(tokens))
    ).status_code == 202
    sms = await sms_server.wait_for(number)
    r = await gateway.post(
        "/me/phone/verify", json={"code": CODE.findall(sms.body)[0]}, headers=bearer(tokens)
    )
    assert r.json()["profile"]["phone_verified"] is True

    await gateway.post("/auth/otp/request", json={"identifier": number, "channel": "sms"})
    login_sms = await sms_server.wait_for(number, count=2)
    r = await gateway.post(
        "/auth/otp/verify", json={"identifier": number, "code": CODE.findall(login_sms.body)[0]}
    )
    assert r.status_code == 200
