import uuid
from datetime import UTC, datetime

import aio_pika
from prometheus_client import REGISTRY

from sportslog_common.events import Envelope, UserDeleted
from sportslog_testing import wait_until

BODY = {"activity_type": "run", "started_at": "2026-05-01T07:00:00Z", "duration_secs": 60}


async def count(app, user_id) -> int:
    async with app.state.pool.acquire() as conn:
        return await conn.fetchval("SELECT count(*) FROM activities WHERE user_id = $1", user_id)


def handled(broker_names) -> float:
    labels = {"queue": broker_names.queue("activities"), "type": "user.deleted", "result": "ok"}
    return REGISTRY.get_sample_value("sportslog_events_consumed_total", labels) or 0.0


async def test_user_deleted_purges_that_users_activities_once(
    app, client, mint, event_publisher, broker_names
):
    gone, kept = uuid.uuid4(), uuid.uuid4()
    for user in (gone, gone, kept):
        r = await client.post("/activities", json=BODY, headers=mint.headers(user))
        assert r.status_code == 201
    before = handled(broker_names)
    env = Envelope.wrap(UserDeleted(user_id=gone, email="gone@example.com"), producer="auth")
    await event_publisher.publish(env)
    await wait_until(lambda: _zero(app, gone), message="purge")
    assert await count(app, kept) == 1

    # Redelivered after the same user id logged again: the claim stops a second purge.
    await client.post("/activities", json=BODY, headers=mint.headers(gone))
    await event_publisher.publish(env)
    await wait_until(lambda: handled(broker_names) >= before + 2, message="the redelivery")
    assert await count(app, gone) == 1


async def _zero(app, user_id) -> bool:
    return await count(app, user_id) == 0


async def test_creating_an_activity_publishes_activity_created(
    app, client, mint, amqp_url, broker_names
):
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        exchange = await channel.get_exchange(broker_names.exchange)
        probe = await channel.declare_queue(exclusive=True)
        await probe.bind(exchange, routing_key="activity.created")
        before = (
            REGISTRY.get_sample_value("sportslog_activities_created_total", {"source": "manual"})
            or 0
        )
        user = uuid.uuid4()
        created = (await client.post("/activities", json=BODY, headers=mint.headers(user))).json()
        message = await wait_until(
            lambda: probe.get(no_ack=True, fail=False), message="activity.created"
        )
        envelope = Envelope.model_validate_json(message.body)
        assert envelope.producer == "activities"
        assert envelope.data == {
            "id": created["id"],
            "user_id": str(user),
            "activity_type": "run",
            "started_at": datetime(2026, 5, 1, 7, tzinfo=UTC).isoformat().replace("+00:00", "Z"),
        }
        after = REGISTRY.get_sample_value(
            "sportslog_activities_created_total", {"source": "manual"}
        )
        assert after == before + 1
    finally:
        await connection.close()
