"""The periodic prune of the delivery log: deliveries untouched past their retention go,
recent ones and a live lease stay; the running notifier does it on its own."""

import asyncio
import uuid
from datetime import timedelta

from asgi_lifespan import LifespanManager

from sportslog_common.pruning import Pruner
from sportslog_notifier.app import create_app, prune_rules
from sportslog_testing import wait_until

DAY = timedelta(days=1)


async def delivery(conn, status: str, age: timedelta, lease: timedelta | None = None) -> uuid.UUID:
    """A delivery last changed `age` ago; while `sending`, leased for `lease` from now."""
    event_id = uuid.uuid4()
    await conn.execute(
        """
        INSERT INTO deliveries (event_id, event_type, channel, destination_masked, template,
                                status, attempts, claimed_until, created_at, updated_at)
        VALUES ($1, 'user.registered', 'email', 'a***@example.com', 'verify_email', $2, 1,
                now() + $4::interval, now() - $3::interval, now() - $3::interval)
        """,
        event_id,
        status,
        age,
        lease,
    )
    return event_id


async def left(conn, ids) -> set[uuid.UUID]:
    rows = await conn.fetch(
        "SELECT event_id FROM deliveries WHERE event_id = ANY($1::uuid[])", list(ids)
    )
    return {row["event_id"] for row in rows}


async def test_only_deliveries_past_their_retention_are_pruned(app, settings):
    assert settings.delivery_retention_days == 30
    async with app.state.pool.acquire() as conn:
        old = [
            await delivery(conn, status, 31 * DAY)
            for status in ("sent", "dead", "expired", "failed")
        ]
        # A crashed worker's lease, lapsed long ago.
        old.append(await delivery(conn, "sending", 31 * DAY, lease=-31 * DAY))
        recent = [await delivery(conn, "sent", 29 * DAY), await delivery(conn, "failed", DAY)]
        # Never taken from a worker holding it, however old the row says it is.
        leased = await delivery(conn, "sending", 31 * DAY, lease=timedelta(seconds=20))

    pruned = await Pruner(app.state.pool, prune_rules(settings), batch_size=2).prune_once()

    async with app.state.pool.acquire() as conn:
        assert await left(conn, [*old, *recent, leased]) == {*recent, leased}
    assert pruned["deliveries"] >= 5


async def test_a_delivery_being_finished_is_skipped_not_waited_for(app, settings):
    async with app.state.pool.acquire() as conn:
        held, free = await delivery(conn, "sent", 40 * DAY), await delivery(conn, "sent", 40 * DAY)
    async with app.state.pool.acquire() as holder, holder.transaction():
        await holder.execute("SELECT 1 FROM deliveries WHERE event_id = $1 FOR UPDATE", held)
        await asyncio.wait_for(Pruner(app.state.pool, prune_rules(settings)).prune_once(), 3)
        async with app.state.pool.acquire() as conn:
            assert await left(conn, [held, free]) == {held}


async def test_the_running_notifier_prunes_on_its_own(settings):
    app = create_app(settings.model_copy(update={"prune_interval_seconds": 0.1}))
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        async with app.state.pool.acquire() as conn:
            old = await delivery(conn, "sent", 31 * DAY)

        async def gone():
            async with app.state.pool.acquire() as conn:
                return not await left(conn, [old])

        await wait_until(gone, timeout=10, message="the old delivery pruned")
