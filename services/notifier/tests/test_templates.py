"""Every message the notifier sends, over the real SMTP and Twilio protocols."""

import re
import uuid
from datetime import UTC, datetime, timedelta

from sportslog_common.events import (
    Envelope,
    UserDeleted,
    UserOtpLocked,
    UserOtpRequested,
    UserPasswordChanged,
    UserPasswordResetRequested,
    UserPhoneVerificationRequested,
    UserVerificationRequested,
)
from sportslog_notifier.rendering import GSM7, Renderer
from sportslog_testing import free_port, twilio, wait_until

CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


def soon() -> datetime:
    return datetime.now(UTC) + timedelta(minutes=10)


def wrap(data) -> Envelope:
    return Envelope.wrap(data, producer="auth")


def otp(channel: str, destination: str, sealed_code: str, expires_at: datetime) -> Envelope:
    return wrap(
        UserOtpRequested(
            user_id=uuid.uuid4(),
            channel=channel,
            destination=destination,
            code=sealed_code,
            expires_at=expires_at,
        )
    )


def email_address() -> str:
    return f"n{uuid.uuid4().hex[:10]}@example.com"


def phone() -> str:
    return f"+1415555{uuid.uuid4().int % 10000:04d}"


async def test_reset_email(app, smtp, publisher, sealer):
    to = email_address()
    await publisher.publish(
        wrap(
            UserPasswordResetRequested(
                user_id=uuid.uuid4(),
                email=to,
                reset_token=sealer.seal("reset_tok-1"),
                expires_at=soon(),
            )
        )
    )
    mail = await smtp.wait_for(to)
    assert mail.subject == "Reset your sports-log password"
    assert "https://app.example/reset-password?token=reset_tok-1" in mail.text()
    html = mail.message.get_body(preferencelist=("html",)).get_content()
    assert 'href="https://app.example/reset-password?token=reset_tok-1"' in html


async def test_a_repeated_registration_says_someone_registered_again_and_when(
    app, smtp, publisher, sealer
):
    to = email_address()
    at = datetime(2026, 12, 7, 9, 41, 12, tzinfo=UTC)
    again = UserVerificationRequested(
        user_id=uuid.uuid4(),
        email=to,
        verify_token=sealer.seal("verify_tok-2"),
        expires_at=soon(),
        repeat_registration_at=at,
    )
    await publisher.publish(wrap(again))
    mail = await smtp.wait_for(to)
    assert mail.subject == "Someone registered again at sports-log with your email"
    text = mail.text()
    assert "registered again" in text
    assert "2026-12-07 09:41 UTC" in text
    assert "If it was not you, ignore this email" in text
    assert "https://app.example/verify-email?token=verify_tok-2" in text
    html = mail.message.get_body(preferencelist=("html",)).get_content()
    assert "2026-12-07 09:41 UTC" in html


async def test_a_link_that_sets_no_password_says_so(app, smtp, publisher, sealer):
    to = email_address()
    resent = UserVerificationRequested(
        user_id=uuid.uuid4(),
        email=to,
        verify_token=sealer.seal("verify_tok-3"),
        expires_at=soon(),
        sets_password=False,
    )
    await publisher.publish(wrap(resent))
    mail = await smtp.wait_for(to)
    assert mail.subject == "Confirm your email for sports-log"
    assert "sets none of the passwords" in mail.text()
    assert "https://app.example/verify-email?token=verify_tok-3" in mail.text()


async def test_password_changed_and_goodbye_emails(app, smtp, publisher):
    to = email_address()
    await publisher.publish(
        wrap(UserPasswordChanged(user_id=uuid.uuid4(), email=to, token_version=3))
    )
    changed = await smtp.wait_for(to)
    assert changed.subject == "Your sports-log password was changed"
    assert "https://app.example/forgot-password" in changed.text()
    await publisher.publish(wrap(UserDeleted(user_id=uuid.uuid4(), email=to)))
    goodbye = await smtp.wait_for(to, count=2)
    assert goodbye.subject == "Your sports-log account was deleted"


async def test_otp_locked_security_email(app, smtp, publisher):
    to = email_address()
    until = datetime(2026, 12, 8, 9, 30, 12, tzinfo=UTC)
    await publisher.publish(
        wrap(UserOtpLocked(user_id=uuid.uuid4(), email=to, failures=20, until=until))
    )
    mail = await smtp.wait_for(to)
    assert mail.subject == "Sign-in with a code is paused on your sports-log account"
    text = mail.text()
    assert "20 wrong sign-in codes" in text
    assert "paused until 2026-12-08 09:30 UTC" in text
    assert "https://app.example/forgot-password" in text
    assert CODE.findall(text) == []  # a notice, never a code
    html = mail.message.get_body(preferencelist=("html",)).get_content()
    assert 'href="https://app.example/forgot-password"' in html


async def test_otp_by_email(app, smtp, publisher, sealer):
    to = email_address()
    await publisher.publish(otp("email", to, sealer.seal("048213"), soon()))
    mail = await smtp.wait_for(to)
    assert CODE.findall(mail.text()) == ["048213"]
    assert "048213" in mail.message.get_body(preferencelist=("html",)).get_content()


async def test_otp_and_phone_verification_by_sms(app, twilio_fake, publisher, sealer):
    number = phone()
    await publisher.publish(otp("sms", number, sealer.seal("551203"), soon()))
    sms = await twilio_fake.wait_for(number)
    assert sms.from_ == twilio.FROM_NUMBER
    assert CODE.findall(sms.body) == ["551203"]
    await publisher.publish(
        wrap(
            UserPhoneVerificationRequested(
                user_id=uuid.uuid4(),
                phone_number=number,
                code=sealer.seal("900001"),
                expires_at=soon(),
            )
        )
    )
    second = await twilio_fake.wait_for(number, count=2)
    assert CODE.findall(second.body) == ["900001"]
    assert "verify" in second.body


def test_every_sms_fits_one_gsm7_segment():
    renderer = Renderer("a-rather-long-product-name-x")
    for template in ("otp_sms", "phone_verification_sms"):
        body = renderer.sms(template, code="123456")
        assert len(body) <= 160
        assert set(body) <= GSM7


def test_html_is_autoescaped_and_text_is_not():
    email = Renderer("<Product & Co>").email("goodbye")
    assert "&lt;Product &amp; Co&gt;" in email.html
    assert "<Product & Co>" in email.text


async def test_twilio_500_twice_then_201_is_delivered_once(app, twilio_fake, publisher, sealer):
    number = phone()
    twilio_fake.fail_with = [500, 500]
    env = otp("sms", number, sealer.seal("123456"), soon())
    await publisher.publish(env)
    await twilio_fake.wait_for(number)
    async with app.state.pool.acquire() as conn:
        row = await wait_until(lambda: _status(conn, env.id, "sent"), message="the sent record")
    assert row["attempts"] == 3
    assert len(twilio_fake.to(number)) == 1
    assert row["last_error"] is None


async def _status(conn, event_id, status):
    return await conn.fetchrow(
        "SELECT status, attempts, last_error, destination_masked FROM deliveries"
        " WHERE event_id = $1 AND status = $2",
        event_id,
        status,
    )


async def test_twilio_4xx_is_dead_lettered_at_once_with_its_reason(
    app, twilio_fake, publisher, sealer, amqp_url, broker_names
):
    import aio_pika

    number = phone()
    twilio_fake.fail_with = [400]
    env = otp("sms", number, sealer.seal("123456"), soon())
    await publisher.publish(env)
    async with app.state.pool.acquire() as conn:
        row = await wait_until(lambda: _status(conn, env.id, "dead"), message="the dead record")
    assert row["attempts"] == 1
    assert row["last_error"] == "Twilio 400 (code 21211)"
    assert number not in str(row["destination_masked"])
    connection = await aio_pika.connect(amqp_url)
    try:
        dead = await (await connection.channel()).get_queue(broker_names.dead_letter_exchange)
        message = await wait_until(
            lambda: dead.get(no_ack=True, fail=False), message="the dead letter"
        )
        assert message.headers["x-error"] == "permanent: Twilio 400 (code 21211)"
        assert message.message_id == str(env.id)
    finally:
        await connection.close()
    assert twilio_fake.requests == 1


async def test_a_code_that_expired_in_the_queue_is_not_sent(
    app, twilio_fake, smtp, publisher, sealer
):
    to = email_address()
    stale = otp("email", to, sealer.seal("111111"), datetime.now(UTC) - timedelta(seconds=1))
    await publisher.publish(stale)
    marker = email_address()
    await publisher.publish(wrap(UserDeleted(user_id=uuid.uuid4(), email=marker)))
    await smtp.wait_for(marker)
    async with app.state.pool.acquire() as conn:
        row = await wait_until(
            lambda: _status(conn, stale.id, "expired"), message="the expired record"
        )
    assert row is not None
    assert smtp.to(to) == []


async def test_without_twilio_credentials_sms_go_to_the_log_file(
    settings, smtp, event_publisher, sealer, tmp_path
):
    from asgi_lifespan import LifespanManager

    from sportslog_notifier.app import create_app

    dev = settings.model_copy(
        update={"twilio_account_sid": None, "sms_log_file": str(tmp_path / "dev-sms.log")}
    )
    app = create_app(dev)
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        number = phone()
        await event_publisher.publish(otp("sms", number, sealer.seal("424242"), soon()))
        log = tmp_path / "dev-sms.log"
        await wait_until(
            lambda: log.exists() and "424242" in log.read_text(), message="the SMS log line"
        )
    line = log.read_text().strip()
    assert f"to={number}" in line
    assert CODE.findall(line.split(" ", 2)[2]) == ["424242"]


async def test_smtp_550_for_the_recipient_is_dead_lettered_at_once(
    app, smtp, publisher, amqp_url, broker_names
):
    import aio_pika

    env = wrap(
        UserDeleted(user_id=uuid.uuid4(), email=f"nobody-{uuid.uuid4().hex[:6]}@example.com")
    )
    await publisher.publish(env)
    async with app.state.pool.acquire() as conn:
        row = await wait_until(lambda: _status(conn, env.id, "dead"), message="the dead record")
    assert row["attempts"] == 1
    assert row["last_error"] == "recipient refused (SMTP 550)"
    connection = await aio_pika.connect(amqp_url)
    try:
        dead = await (await connection.channel()).get_queue(broker_names.dead_letter_exchange)
        message = await wait_until(
            lambda: dead.get(no_ack=True, fail=False), message="the dead letter"
        )
        assert message.headers["x-error"] == "permanent: recipient refused (SMTP 550)"
        assert "nobody" not in message.headers["x-error"]
    finally:
        await connection.close()


async def test_a_delivery_that_never_gets_through_is_recorded_dead(settings, event_publisher):
    from asgi_lifespan import LifespanManager

    from sportslog_notifier.app import create_app

    nowhere = settings.model_copy(update={"smtp_port": free_port(), "retry_backoff_base": 0.05})
    app = create_app(nowhere)
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        env = wrap(UserDeleted(user_id=uuid.uuid4(), email=email_address()))
        await event_publisher.publish(env)
        async with app.state.pool.acquire() as conn:
            row = await wait_until(
                lambda: _status(conn, env.id, "dead"), timeout=20, message="dead"
            )
    assert row["attempts"] == 5
    assert row["last_error"] == "SMTPConnectError"
