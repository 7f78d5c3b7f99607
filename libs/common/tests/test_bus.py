import uuid

import aio_pika
import pytest

from sportslog_common.bus.connection import connect
from sportslog_common.bus.consumer import Consumer, PermanentError
from sportslog_common.bus.publisher import Publisher
from sportslog_common.bus.topology import DELIVERY_LIMIT, declare_topology, retry_queue_name
from sportslog_common.events import Envelope, UserEmailVerified
from sportslog_common.inbox import claim_event
from sportslog_testing import wait_until

ROUTING_KEY = "user.email_verified"


@pytest.fixture
async def connection(amqp_url):
    conn = await connect(amqp_url)
    yield conn
    await conn.close()


@pytest.fixture
async def channel(connection, broker_names):
    broker_names.extra_queues.append(broker_names.queue("probe"))
    ch = await connection.channel()
    await declare_topology(
        ch, broker_names.exchange, broker_names.dead_letter_exchange, {"probe": [ROUTING_KEY]}
    )
    return ch


@pytest.fixture
async def publisher(connection, broker_names, channel):
    p = Publisher(connection, broker_names.exchange)
    await p.start()
    yield p
    await p.close()


def envelope() -> Envelope:
    return Envelope.wrap(UserEmailVerified(user_id=uuid.uuid4()), producer="test")


async def start_consumer(connection, broker_names, handler, queue="probe", **kwargs):
    consumer = Consumer(
        connection,
        queue=broker_names.queue(queue),
        exchange=broker_names.exchange,
        dead_letter_exchange=broker_names.dead_letter_exchange,
        routing_keys=[ROUTING_KEY],
        handler=handler,
        backoff_base=0.01,
        **kwargs,
    )
    await consumer.start()
    return consumer


async def dead_letters(channel, broker_names):
    queue = await channel.get_queue(broker_names.dead_letter_exchange)
    found = []
    while (message := await queue.get(no_ack=True, fail=False)) is not None:
        found.append(message)
    return found


@pytest.mark.parametrize("exclusive", [False, True], ids=["durable", "per-replica"])
async def test_failing_handler_is_retried_then_dead_lettered_with_reason(
    connection, channel, publisher, broker_names, exclusive
):
    """A per-replica (exclusive) queue, like the gateway's revocations, parks a poison message
    too, instead of requeueing it forever."""
    attempts = []

    async def always_fails(env: Envelope) -> None:
        attempts.append(env.id)
        raise RuntimeError("smtp down for ann@example.com")  # foreign text may quote data

    queue = "replica" if exclusive else "probe"
    consumer = await start_consumer(
        connection, broker_names, always_fails, queue=queue, exclusive=exclusive
    )
    try:
        sent = envelope()
        await publisher.publish(sent)
        dead = []

        async def dead_lettered():
            dead.extend(await dead_letters(channel, broker_names))
            return dead

        await wait_until(dead_lettered, timeout=15, message="the dead letter")
        assert len(attempts) == DELIVERY_LIMIT
        assert set(attempts) == {sent.id}
        assert dead[0].message_id == str(sent.id)
        assert dead[0].headers["x-error"] == f"failed {DELIVERY_LIMIT} times: RuntimeError"
        assert dead[0].headers["x-original-queue"] == broker_names.queue(queue)
        assert Envelope.model_validate_json(dead[0].body) == sent
    finally:
        await consumer.stop()
    if not exclusive:  # (the per-replica queue went with its consumer)
        probe = await channel.get_queue(broker_names.queue("probe"))
        assert await probe.get(fail=False) is None


async def test_permanent_error_is_dead_lettered_at_once(
    connection, channel, publisher, broker_names
):
    attempts = []

    async def refuses(env: Envelope) -> None:
        attempts.append(env.id)
        raise PermanentError("invalid address")

    consumer = await start_consumer(connection, broker_names, refuses)
    try:
        await publisher.publish(envelope())
        dead = await wait_until(lambda: dead_letters(channel, broker_names), message="dead letter")
        assert len(attempts) == 1
        assert dead[0].headers["x-error"] == "permanent: invalid address"
    finally:
        await consumer.stop()


async def test_unreadable_message_is_dead_lettered(connection, channel, broker_names):
    handled = []

    async def handler(env: Envelope) -> None:
        handled.append(env)

    consumer = await start_consumer(connection, broker_names, handler)
    try:
        exchange = await channel.get_exchange(broker_names.exchange)
        await exchange.publish(aio_pika.Message(b"not json"), routing_key=ROUTING_KEY)
        dead = await wait_until(lambda: dead_letters(channel, broker_names), message="dead letter")
        assert "unreadable envelope" in dead[0].headers["x-error"]
        assert handled == []
    finally:
        await consumer.stop()


async def test_redelivered_event_is_handled_once(
    connection, channel, publisher, broker_names, pool
):
    effects = []
    seen = []

    async def handler(env: Envelope) -> None:
        async with pool.acquire() as conn, conn.transaction():
            if await claim_event(conn, env.id, "probe"):
                effects.append(env.id)
        seen.append(env.id)  # after the commit: a delivery counts once it is fully handled

    consumer = await start_consumer(connection, broker_names, handler)
    try:
        sent = envelope()
        other = envelope()
        for env in (sent, sent, other):  # the broker delivering the same event twice
            await publisher.publish(env)
        await wait_until(lambda: len(seen) == 3, message="three deliveries")
        assert effects == [sent.id, other.id]
    finally:
        await consumer.stop()


async def test_failure_after_claim_rolls_back_so_the_retry_does_the_work(
    connection, channel, publisher, broker_names, pool
):
    effects = []
    calls = []

    async def flaky(env: Envelope) -> None:
        async with pool.acquire() as conn, conn.transaction():
            calls.append(env.id)
            if await claim_event(conn, env.id, "flaky"):
                if len(calls) == 1:
                    raise ConnectionError("transient")
                effects.append(env.id)

    consumer = await start_consumer(connection, broker_names, flaky)
    try:
        sent = envelope()
        await publisher.publish(sent)
        await wait_until(lambda: effects, message="the retried effect")
        assert effects == [sent.id]
        assert len(calls) == 2
    finally:
        await consumer.stop()


async def test_unroutable_publish_raises(connection, broker_names, channel):
    p = Publisher(connection, broker_names.exchange)
    await p.start()
    env = Envelope.wrap(UserEmailVerified(user_id=uuid.uuid4()), producer="t")
    object.__setattr__(env, "type", "nobody.listens")
    with pytest.raises(aio_pika.exceptions.PublishError):
        await p.publish(env)
    await p.close()


async def test_a_retry_waits_in_the_broker_not_in_the_handler(
    connection, channel, publisher, broker_names
):
    # prefetch=1: were the retry a sleep in the handler, B would wait behind A's backoff.
    handled = []
    failed_once = set()

    async def handler(env: Envelope) -> None:
        handled.append(env.id)
        if env.id not in failed_once and env.id == first.id:
            failed_once.add(env.id)
            raise ConnectionError("try later")

    consumer = Consumer(
        connection,
        queue=broker_names.queue("probe"),
        exchange=broker_names.exchange,
        dead_letter_exchange=broker_names.dead_letter_exchange,
        routing_keys=[ROUTING_KEY],
        handler=handler,
        prefetch=1,
        backoff_base=3.0,
    )
    first, second = envelope(), envelope()
    await consumer.start()
    try:
        await publisher.publish(first)
        await publisher.publish(second)
        await wait_until(lambda: second.id in handled, timeout=2.5, message="B before A's retry")
        assert handled[:2] == [first.id, second.id]
        await wait_until(lambda: handled.count(first.id) == 2, timeout=10, message="A retried")
        retry = await channel.get_queue(retry_queue_name(broker_names.queue("probe")))
        assert retry.declaration_result.message_count == 0
    finally:
        await consumer.stop()


async def test_code_events_expire_with_their_code(connection, broker_names, amqp_url):
    from datetime import UTC, datetime, timedelta

    from sportslog_common.events import UserOtpRequested
    from sportslog_common.sealing import Sealer, generate_key

    broker_names.extra_queues.append(broker_names.queue("otp"))
    ch = await connection.channel()
    await declare_topology(
        ch,
        broker_names.exchange,
        broker_names.dead_letter_exchange,
        {"otp": ["user.otp_requested"]},
    )
    p = Publisher(connection, broker_names.exchange)
    await p.start()
    code = Sealer(generate_key()).seal("123456")

    def code_event(destination: str, lives: timedelta) -> Envelope:
        data = UserOtpRequested(
            user_id=uuid.uuid4(),
            channel="email",
            destination=destination,
            code=code,
            expires_at=datetime.now(UTC) + lives,
        )
        return Envelope.wrap(data, producer="t")

    live = code_event("a@example.com", timedelta(minutes=10))
    dying = code_event("b@example.com", timedelta(milliseconds=50))
    await p.publish(dying)
    await p.publish(live)
    dead_queue = await ch.get_queue(broker_names.dead_letter_exchange)
    dead = await wait_until(
        lambda: dead_queue.get(no_ack=True, fail=False), message="the expired code"
    )
    assert dead.message_id == str(dying.id)
    assert dead.headers["x-death"][0]["reason"] == "expired"
    queue = await ch.get_queue(broker_names.queue("otp"))
    remaining = await queue.get(no_ack=True, fail=False)
    assert remaining.message_id == str(live.id)
    assert remaining.expiration is not None  # the live one carries its TTL too
    await p.close()
