import uuid
from urllib.parse import urlsplit

import aio_pika
import pytest

from sportslog_common.bus.connection import connect
from sportslog_common.bus.publisher import Publisher
from sportslog_common.bus.topology import declare_topology
from sportslog_common.events import Envelope, UserEmailVerified
from sportslog_common.outbox import OutboxRelay, write_event
from sportslog_testing import wait_until
from sportslog_testing.tcp_proxy import TcpProxy


@pytest.fixture
async def topology(amqp_url, broker_names):
    """A queue bound to user.email_verified on this test's own exchange."""
    broker_names.extra_queues.append(f"{broker_names.exchange}.probe")
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    await declare_topology(
        channel,
        broker_names.exchange,
        broker_names.dead_letter_exchange,
        {"probe": ["user.email_verified"]},
    )
    queue = await channel.get_queue(broker_names.queue("probe"))
    yield queue
    await connection.close()


async def drain(queue) -> list[Envelope]:
    got = []
    while (message := await queue.get(no_ack=True, fail=False)) is not None:
        assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        assert message.content_type == "application/json"
        envelope = Envelope.model_validate_json(message.body)
        assert message.message_id == str(envelope.id)
        got.append(envelope)
    return got


async def write(pool, user_id=None):
    async with pool.acquire() as conn, conn.transaction():
        return await write_event(
            conn, UserEmailVerified(user_id=user_id or uuid.uuid4()), producer="test"
        )


async def start_relay(pool, events_db, connection, exchange):
    publisher = Publisher(connection, exchange)
    await publisher.start()
    relay = OutboxRelay(pool, events_db, publisher)
    await relay.start()
    return relay


async def test_rolled_back_event_is_never_published(
    pool, events_db, amqp_url, broker_names, topology
):
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with pool.acquire() as conn, conn.transaction():
            await write_event(conn, UserEmailVerified(user_id=uuid.uuid4()), producer="test")
            raise Boom
    committed = await write(pool)

    connection = await connect(amqp_url)
    relay = await start_relay(pool, events_db, connection, broker_names.exchange)
    try:
        received: list[Envelope] = []

        async def got_committed():
            received.extend(await drain(topology))
            return any(e.id == committed.id for e in received)

        await wait_until(got_committed, message="the committed event")
        assert [e.id for e in received] == [committed.id]
        assert received[0].type == "user.email_verified"

        async def outbox_empty():
            # The relay deletes a row after the broker's confirm, which can land after the
            # consumer has the message.
            async with pool.acquire() as conn:
                return await conn.fetchval("SELECT count(*) FROM outbox") == 0

        await wait_until(outbox_empty, message="the outbox row deleted after the confirm")
    finally:
        await relay.stop()
        await connection.close()


async def test_events_written_while_broker_is_down_are_published_when_it_is_back(
    pool, events_db, amqp_url, broker_names, topology
):
    parts = urlsplit(amqp_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5672)
    await proxy.start()
    proxied = amqp_url.replace(f"{parts.hostname}:{parts.port or 5672}", f"127.0.0.1:{proxy.port}")
    connection = await connect(proxied, reconnect_interval=0.2)
    publisher = Publisher(connection, broker_names.exchange)
    await publisher.start()
    relay = OutboxRelay(pool, events_db, publisher)  # its loop starts once the broker is back
    try:
        await proxy.cut()
        await wait_until(lambda: not connection.connected.is_set(), message="connection loss")
        written = [await write(pool) for _ in range(3)]
        # While the broker is unreachable a drain publishes nothing and keeps every row.
        with pytest.raises(RuntimeError, match="3 events not confirmed"):
            await relay.drain_once()
        assert not await _outbox_empty(pool)
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM outbox") == 3

        await proxy.restore()
        await relay.start()
        received: list[Envelope] = []

        async def all_received():
            received.extend(await drain(topology))
            return len(received) >= 3

        await wait_until(all_received, timeout=20, message="events after the outage")
        assert sorted(str(e.id) for e in received) == sorted(str(e.id) for e in written)
        await wait_until(lambda: _outbox_empty(pool), message="outbox emptied")
    finally:
        await relay.stop()
        await connection.close()
        await proxy.stop()


async def _outbox_empty(pool) -> bool:
    async with pool.acquire() as conn:
        return await conn.fetchval("SELECT count(*) FROM outbox") == 0


async def test_unroutable_event_is_dropped_not_retried_forever(
    pool, events_db, amqp_url, broker_names, topology
):
    from sportslog_common.events import UserDeleted

    async with pool.acquire() as conn, conn.transaction():
        await write_event(
            conn, UserDeleted(user_id=uuid.uuid4(), email="x@example.com"), producer="t"
        )
    connection = await connect(amqp_url)
    publisher = Publisher(connection, broker_names.exchange)
    await publisher.start()
    relay = OutboxRelay(pool, events_db, publisher)
    try:
        # Nothing binds user.deleted on this exchange: the broker returns it (mandatory).
        assert await relay.drain_once() == 1
        assert await _outbox_empty(pool)
    finally:
        await connection.close()
