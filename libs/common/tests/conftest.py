import asyncpg
import pytest

from sportslog_common import db

OUTBOX_AND_INBOX_SQL = """
CREATE TABLE outbox (
    id uuid PRIMARY KEY,
    type text NOT NULL,
    envelope jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE processed_events (
    event_id uuid NOT NULL,
    consumer text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, consumer)
);
"""


@pytest.fixture(scope="session")
async def events_db(create_database) -> str:
    url = await create_database("common")
    conn = await asyncpg.connect(url)
    await conn.execute(OUTBOX_AND_INBOX_SQL)
    await conn.close()
    return url


@pytest.fixture
async def pool(events_db):
    p = await db.create_pool(events_db, min_size=1, max_size=5)
    async with p.acquire() as conn:
        await conn.execute("TRUNCATE outbox, processed_events")
    yield p
    await p.close()
