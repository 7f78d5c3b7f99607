import asyncio
import re
import uuid
from datetime import UTC, datetime, timedelta

from asgi_lifespan import LifespanManager
from prometheus_client import REGISTRY

from sportslog_common.events import Envelope, UserRegistered, UserRegistrationAttempted
from sportslog_notifier.app import create_app
from sportslog_notifier.senders.email import SmtpEmailSender
from sportslog_testing import SmtpFake, wait_until

TOKEN_RE = re.compile(r"https://app\.example/verify-email\?token=([A-Za-z0-9_\-]+)")


def registered(sealer, email: str, token: str) -> Envelope:
    data = UserRegistered(
        user_id=uuid.uuid4(),
        email=email,
        verify_token=sealer.seal(token),
        expires_at=datetime.now(UTC) + timedelta(hours=24),
    )
    return Envelope.wrap(data, producer="auth", request_id="req-1")


async def test_verification_email_is_sent_with_the_link(app, smtp, publisher, sealer):
    token = "tok_" + uuid.uuid4().hex
    env = registered(sealer, "ann@example.com", token)
    await publisher.publish(env)
    mail = await smtp.wait_for("ann@example.com")
    assert mail.message["From"] == "sports-log <no-reply@sportslog.example>"
    assert mail.subject == "Verify your email for sports-log"
    # Derived from the event: a resend after a crash is the same message to mail clients.
    assert mail.message["Message-ID"] == f"<{env.id}@sportslog.example>"
    assert mail.message["Date"]
    assert TOKEN_RE.search(mail.text()).group(1) == token
    html = mail.message.get_body(preferencelist=("html",)).get_content()
    assert f'href="https://app.example/verify-email?token={token}"' in html


async def test_the_same_event_twice_is_sent_once(app, smtp, publisher, sealer, broker_names):
    env = registered(sealer, "bob@example.com", "tok_" + uuid.uuid4().hex)
    queue = broker_names.queue("notifier")
    await publisher.publish(env)
    await publisher.publish(env)  # the broker delivering the same event twice

    def acked() -> float:
        value = REGISTRY.get_sample_value(
            "sportslog_events_consumed_total",
            {"queue": queue, "type": "user.registered", "result": "ok"},
        )
        return value or 0.0

    await wait_until(lambda: acked() >= 2, message="both copies handled")
    assert len(smtp.to("bob@example.com")) == 1
    async with app.state.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT status FROM deliveries WHERE event_id = $1", env.id)
    assert row["status"] == "sent"


async def test_account_exists_notice(app, smtp, publisher):
    data = UserRegistrationAttempted(user_id=uuid.uuid4(), email="cy@example.com")
    await publisher.publish(Envelope.wrap(data, producer="auth"))
    mail = await smtp.wait_for("cy@example.com")
    assert "already have" in mail.subject
    assert "https://app.example/forgot-password" in mail.text()


async def test_smtp_down_then_up_is_delivered_once(app, publisher, sealer, smtp_port):
    token = "tok_" + uuid.uuid4().hex
    env = registered(sealer, "dee@example.com", token)
    await publisher.publish(env)

    async def failed_once():
        async with app.state.pool.acquire() as conn:
            return await conn.fetchval(
                "SELECT attempts FROM deliveries WHERE event_id = $1 AND status = 'failed'", env.id
            )

    await wait_until(failed_once, message="a failed attempt while SMTP is down")
    smtp = SmtpFake(port=smtp_port)
    smtp.start()
    try:
        mail = await smtp.wait_for("dee@example.com", timeout=20)
        assert token in mail.text()
        async with app.state.pool.acquire() as conn:
            # The SMTP server has it; the notifier records "sent" right after.
            row = await wait_until(
                lambda: conn.fetchrow(
                    "SELECT status, destination_masked, last_error FROM deliveries"
                    " WHERE event_id = $1 AND status = 'sent'",
                    env.id,
                ),
                message="the sent record",
            )
            dump = str(await conn.fetch("SELECT * FROM deliveries"))
        assert row["status"] == "sent"
        assert row["destination_masked"] == "d***@example.com"
        assert token not in dump
        assert "dee@example.com" not in dump
        assert len(smtp.to("dee@example.com")) == 1
    finally:
        smtp.stop()


async def test_health_ready_metrics(client, app):
    assert (await client.get("/health")).status_code == 200
    ready = await client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"postgres": "ok", "rabbitmq": "ok"}
    assert "sportslog_events_consumed_total" in (await client.get("/metrics")).text


def consumed(queue: str, result: str) -> float:
    labels = {"queue": queue, "type": "user.registered", "result": result}
    return REGISTRY.get_sample_value("sportslog_events_consumed_total", labels) or 0.0


async def test_a_copy_arriving_mid_send_waits_and_is_not_sent_again(
    settings, smtp, event_publisher, sealer, broker_names
):
    gate = asyncio.Event()

    class GatedSender:
        """The real SMTP sender, held at the door until the test opens it."""

        def __init__(self) -> None:
            self.real = SmtpEmailSender(settings)
            self.calls = 0

        async def send(self, to, email, key):
            self.calls += 1
            await gate.wait()
            await self.real.send(to, email, key)

    sender = GatedSender()
    app = create_app(settings, email_sender=sender)
    queue = broker_names.queue("notifier")
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        env = registered(sealer, "eve@example.com", "tok_" + uuid.uuid4().hex)
        retries, oks = consumed(queue, "retry"), consumed(queue, "ok")
        await event_publisher.publish(env)
        await wait_until(lambda: sender.calls == 1, message="the first copy sending")
        await event_publisher.publish(env)  # a second copy while the first is mid-send
        await wait_until(lambda: consumed(queue, "retry") > retries, message="the copy deferred")
        gate.set()
        await smtp.wait_for("eve@example.com")
        await wait_until(lambda: consumed(queue, "ok") >= oks + 2, timeout=20, message="both acked")
    assert sender.calls == 1
    assert len(smtp.to("eve@example.com")) == 1


async def test_claim_is_atomic_under_concurrency(app, settings):
    from sportslog_notifier.deliveries import Claim, Delivery, DeliveryInFlight, claim

    delivery = Delivery(uuid.uuid4(), "user.registered", "email", "x@example.com", "verify_email")
    results = await asyncio.gather(
        *(claim(app.state.pool, delivery) for _ in range(8)), return_exceptions=True
    )
    assert results.count(Claim.CLAIMED) == 1
    assert all(isinstance(r, DeliveryInFlight) for r in results if r is not Claim.CLAIMED)
