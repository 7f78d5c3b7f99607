"""The periodic prune of activities' tables: processed event ids past their retention and
idempotency keys past 24 hours go, recent ones stay; the running service does it itself."""

import asyncio
import uuid
from datetime import timedelta

from asgi_lifespan import LifespanManager

from sportslog_activities.app import create_app, prune_rules
from sportslog_common.pruning import Pruner
from sportslog_testing import wait_until

DAY = timedelta(days=1)


async def processed(conn, age: timedelta, consumer: str = "activities") -> uuid.UUID:
    event_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO processed_events (event_id, consumer, processed_at)"
        " VALUES ($1, $2, now() - $3::interval)",
        event_id,
        consumer,
        age,
    )
    return event_id


async def events_left(conn, ids) -> set[uuid.UUID]:
    rows = await conn.fetch(
        "SELECT event_id FROM processed_events WHERE event_id = ANY($1::uuid[])", list(ids)
    )
    return {row["event_id"] for row in rows}


async def key(conn, age: timedelta) -> str:
    name = uuid.uuid4().hex
    await conn.execute(
        "INSERT INTO idempotency_keys (user_id, key, request_hash, created_at)"
        " VALUES ($1, $2, 'h', now() - $3::interval)",
        uuid.uuid4(),
        name,
        age,
    )
    return name


async def test_only_rows_past_their_retention_are_pruned(app, settings):
    assert settings.processed_event_retention_days == 30
    async with app.state.pool.acquire() as conn:
        old = [await processed(conn, 31 * DAY), await processed(conn, 40 * DAY, "other")]
        recent = [await processed(conn, 29 * DAY), await processed(conn, timedelta(0))]
        stale_key, fresh_key = await key(conn, timedelta(hours=25)), await key(conn, DAY / 2)

    pruned = await Pruner(app.state.pool, prune_rules(settings), batch_size=1).prune_once()

    async with app.state.pool.acquire() as conn:
        assert await events_left(conn, old + recent) == set(recent)
        keys = await conn.fetch(
            "SELECT key FROM idempotency_keys WHERE key = ANY($1)", [stale_key, fresh_key]
        )
        assert [row["key"] for row in keys] == [fresh_key]
    assert pruned["processed_events"] >= 2
    assert pruned["idempotency_keys"] >= 1


async def test_a_row_being_claimed_is_skipped_not_waited_for(app, settings):
    async with app.state.pool.acquire() as conn:
        held, free = await processed(conn, 40 * DAY), await processed(conn, 40 * DAY)
    async with app.state.pool.acquire() as holder, holder.transaction():
        await holder.execute("SELECT 1 FROM processed_events WHERE event_id = $1 FOR UPDATE", held)
        await asyncio.wait_for(Pruner(app.state.pool, prune_rules(settings)).prune_once(), 3)
        async with app.state.pool.acquire() as conn:
            assert await events_left(conn, [held, free]) == {held}


async def test_the_running_service_prunes_on_its_own(settings, mint):
    app = create_app(
        settings.model_copy(update={"prune_interval_seconds": 0.1}),
        jwks_transport=mint.transport(),
    )
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        async with app.state.pool.acquire() as conn:
            old = await processed(conn, 31 * DAY)

        async def gone():
            async with app.state.pool.acquire() as conn:
                return not await events_left(conn, [old])

        await wait_until(gone, timeout=10, message="the old event id pruned")
