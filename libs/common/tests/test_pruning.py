"""The periodic prune: batches, SKIP LOCKED, a failing rule or pass, the metric, shutdown."""

import asyncio
import time
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

import pytest
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from sportslog_common import db
from sportslog_common.pruning import Pruner, PruneRule, delete_older_than
from sportslog_common.service import periodic
from sportslog_testing import wait_until
from sportslog_testing.tcp_proxy import TcpProxy

# Each DELETE statement on prune_items records how many rows it removed (a statement-level
# trigger), so a test sees the batches PostgreSQL actually ran.
SCHEMA = """
CREATE TABLE IF NOT EXISTS prune_items (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS prune_batches (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    deleted integer NOT NULL
);
CREATE OR REPLACE FUNCTION record_prune_batch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO prune_batches (deleted) SELECT count(*) FROM gone;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS prune_items_batches ON prune_items;
CREATE TRIGGER prune_items_batches AFTER DELETE ON prune_items
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION record_prune_batch();
"""

ITEMS = """
DELETE FROM prune_items WHERE id IN (
    SELECT id FROM prune_items WHERE expires_at < now() - $1::interval
    LIMIT $2 FOR UPDATE SKIP LOCKED
)
"""
RETENTION = timedelta(days=7)


def rule(table: str = "prune_items", statement: str = ITEMS) -> PruneRule:
    return PruneRule(table, statement, RETENTION)


@pytest.fixture
async def items(pool):
    async with pool.acquire() as conn:
        await conn.execute(SCHEMA)
        await conn.execute("DROP TABLE IF EXISTS prune_later")
        await conn.execute("TRUNCATE prune_items, prune_batches")
    return pool


async def insert(pool, count: int, age: timedelta) -> list[int]:
    """`count` rows that expired `age` ago (a negative age: still live)."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "INSERT INTO prune_items (expires_at)"
            " SELECT now() - $1::interval FROM generate_series(1, $2) RETURNING id",
            age,
            count,
        )
    return [row["id"] for row in rows]


async def remaining(pool) -> set[int]:
    async with pool.acquire() as conn:
        return {row["id"] for row in await conn.fetch("SELECT id FROM prune_items")}


async def batches(pool) -> list[int]:
    async with pool.acquire() as conn:
        return [
            r["deleted"] for r in await conn.fetch("SELECT deleted FROM prune_batches ORDER BY id")
        ]


def pruned_total(table: str = "prune_items") -> float | None:
    return REGISTRY.get_sample_value("sportslog_rows_pruned_total", {"table": table})


async def test_only_rows_past_their_retention_go_in_batches_until_one_is_short(items):
    await insert(items, 25, RETENTION + timedelta(days=1))
    live = await insert(items, 3, -timedelta(days=1))
    recent = await insert(items, 2, RETENTION - timedelta(hours=1))  # expired, kept for now

    assert await Pruner(items, [rule()], batch_size=10).prune_once() == {"prune_items": 25}
    assert await batches(items) == [10, 10, 5]
    assert await remaining(items) == {*live, *recent}


async def test_a_full_last_batch_takes_one_more_look(items):
    await insert(items, 20, RETENTION * 2)

    assert await Pruner(items, [rule()], batch_size=10).prune_once() == {"prune_items": 20}
    assert await batches(items) == [10, 10, 0]


async def test_rows_pruned_are_counted_by_table(items):
    Pruner(items, [rule("prune_unseen")])
    assert pruned_total("prune_unseen") == 0  # exported before anything was pruned
    before = pruned_total() or 0.0
    await insert(items, 7, RETENTION * 2)

    await Pruner(items, [rule()], batch_size=3).prune_once()

    assert pruned_total() == before + 7


async def test_a_locked_row_is_skipped_not_waited_for(items):
    locked, *_ = await insert(items, 5, RETENTION * 2)
    async with items.acquire() as holder, holder.transaction():
        # A request holding the row, e.g. a refresh in flight on it.
        await holder.execute("SELECT 1 FROM prune_items WHERE id = $1 FOR UPDATE", locked)
        started = time.monotonic()
        pruned = await asyncio.wait_for(Pruner(items, [rule()], batch_size=2).prune_once(), 3)
        assert time.monotonic() - started < 1
        assert pruned == {"prune_items": 4}
        assert await remaining(items) == {locked}
    # Released: the next pass takes it.
    assert await Pruner(items, [rule()]).prune_once() == {"prune_items": 1}
    assert await remaining(items) == set()


async def test_a_failing_rule_is_logged_and_the_next_rules_still_run(items):
    await insert(items, 4, RETENTION * 2)
    broken = rule("prune_missing", ITEMS.replace("prune_items", "prune_missing"))

    with capture_logs() as logs:
        pruned = await Pruner(items, [broken, rule()]).prune_once()

    assert pruned == {"prune_items": 4}
    failures = [e for e in logs if e["event"] == "prune_failed"]
    assert [e["table"] for e in failures] == ["prune_missing"]
    assert failures[0]["log_level"] == "warning"
    assert "UndefinedTableError" in failures[0]["error"]


async def test_the_periodic_prune_survives_a_failed_pass_and_runs_again(items):
    # The first passes fail (no such table yet); once it exists, a later pass prunes it.
    later = rule("prune_later", ITEMS.replace("prune_items", "prune_later"))
    pruner = Pruner(items, [later])
    with capture_logs() as logs:
        async with periodic(0.05, pruner.run) as task:
            await wait_until(
                lambda: any(e["event"] == "prune_failed" for e in logs), message="a failed pass"
            )
            async with items.acquire() as conn:
                await conn.execute(
                    "CREATE TABLE prune_later (id bigint PRIMARY KEY, expires_at timestamptz);"
                    "INSERT INTO prune_later VALUES (1, now() - interval '30 days')"
                )

            async def gone():
                async with items.acquire() as conn:
                    return await conn.fetchval("SELECT count(*) = 0 FROM prune_later")

            await wait_until(gone, message="prune_later emptied by a later pass")
            assert not task.done()
    assert task.cancelled()


async def test_with_the_database_away_a_pass_gives_up_after_one_warning(items, events_db):
    address = urlsplit(events_db)
    proxy = TcpProxy(address.hostname or "127.0.0.1", address.port or 5432)
    await proxy.start()
    userinfo = address.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@127.0.0.1:{proxy.port}" if userinfo else f"127.0.0.1:{proxy.port}"
    pool = await db.create_pool(urlunsplit(address._replace(netloc=netloc)), min_size=1)
    try:
        await proxy.cut()
        rules = [rule(), rule("prune_other", ITEMS.replace("prune_items", "prune_other"))]
        with capture_logs() as logs:
            assert await Pruner(pool, rules).prune_once() == {}
        assert [e["table"] for e in logs if e["event"] == "prune_failed"] == ["prune_items"]
    finally:
        await proxy.stop()
        pool.terminate()


async def test_shutdown_stops_a_pass_in_the_middle_of_a_batch(items):
    await insert(items, 3, RETENTION * 2)
    slow = rule(
        statement=ITEMS.replace("WHERE expires_at", "WHERE pg_sleep(30) IS NULL OR expires_at")
    )

    async def sleeping():
        async with items.acquire() as conn:
            return await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE state = 'active' AND query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()"
            )

    async with periodic(0.01, Pruner(items, [slow]).run) as task:
        await wait_until(sleeping, message="the batch running")
        began = time.monotonic()
    assert time.monotonic() - began < 2
    assert task.cancelled()
    assert len(await remaining(items)) == 3  # the batch rolled back

    async def cancelled():
        return await sleeping() == 0

    await wait_until(cancelled, message="the server's statement cancelled too")


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM prune_items WHERE expires_at < now() - $1::interval",
        ITEMS.replace(" SKIP LOCKED", ""),
        ITEMS.replace("LIMIT $2", "LIMIT 1000"),
    ],
)
def test_a_rule_that_could_wait_on_a_lock_or_delete_unbounded_is_refused(statement):
    with pytest.raises(ValueError, match="LIMIT \\$2 and FOR UPDATE SKIP LOCKED"):
        PruneRule("prune_items", statement, RETENTION)


def test_the_usual_statement_is_a_valid_rule():
    statement = delete_older_than("t", "expires_at", key="a, b")
    assert statement == (
        "DELETE FROM t WHERE (a, b) IN ( SELECT a, b FROM t WHERE expires_at < now() - $1::interval"
        " LIMIT $2 FOR UPDATE SKIP LOCKED)"
    )
    PruneRule("t", statement, timedelta(days=1))  # passes the LIMIT / SKIP LOCKED check
