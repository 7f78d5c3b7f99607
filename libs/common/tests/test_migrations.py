import asyncio

import asyncpg
import pytest

from sportslog_common.migrations import MigrationError, apply_migrations, load_migrations


def write(folder, name, sql):
    (folder / name).write_text(sql)


@pytest.fixture
async def conn(create_database):
    url = await create_database("migrations")
    connection = await asyncpg.connect(url)
    yield connection
    await connection.close()


async def test_applies_in_order_once(tmp_path, conn):
    write(tmp_path, "002_add_column.sql", "ALTER TABLE things ADD COLUMN size int;")
    write(tmp_path, "001_things.sql", "CREATE TABLE things (id int PRIMARY KEY);")
    assert await apply_migrations(conn, load_migrations(tmp_path)) == [
        "001_things.sql",
        "002_add_column.sql",
    ]
    assert await apply_migrations(conn, load_migrations(tmp_path)) == []
    rows = await conn.fetch("SELECT version, checksum FROM schema_migrations ORDER BY version")
    assert [r["version"] for r in rows] == [1, 2]
    assert all(len(r["checksum"]) == 64 for r in rows)


async def test_edited_applied_migration_stops_startup(tmp_path, conn):
    write(tmp_path, "001_things.sql", "CREATE TABLE things (id int PRIMARY KEY);")
    await apply_migrations(conn, load_migrations(tmp_path))
    write(tmp_path, "001_things.sql", "CREATE TABLE things (id bigint PRIMARY KEY);")
    write(tmp_path, "002_more.sql", "CREATE TABLE more (id int);")
    with pytest.raises(MigrationError, match="001_things.sql was edited"):
        await apply_migrations(conn, load_migrations(tmp_path))
    # Nothing after the edited file was applied.
    assert await conn.fetchval("SELECT to_regclass('more')") is None


async def test_failed_migration_leaves_no_trace(tmp_path, conn):
    write(tmp_path, "001_bad.sql", "CREATE TABLE ok (id int); SELECT no_such_function();")
    with pytest.raises(asyncpg.PostgresError):
        await apply_migrations(conn, load_migrations(tmp_path))
    assert await conn.fetchval("SELECT to_regclass('ok')") is None
    assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == 0


async def test_replicas_starting_together_apply_each_file_once(tmp_path, create_database):
    url = await create_database("migrations")
    write(
        tmp_path, "001_counter.sql", "CREATE TABLE counter (n int); INSERT INTO counter VALUES (1);"
    )
    conns = [await asyncpg.connect(url) for _ in range(4)]
    try:
        migrations = load_migrations(tmp_path)
        results = await asyncio.gather(*(apply_migrations(c, migrations) for c in conns))
        assert sorted(len(r) for r in results) == [0, 0, 0, 1]
        assert await conns[0].fetchval("SELECT count(*) FROM counter") == 1
    finally:
        for c in conns:
            await c.close()


def test_badly_named_file_is_refused(tmp_path):
    write(tmp_path, "1-things.sql", "SELECT 1;")
    with pytest.raises(MigrationError, match="NNN_name.sql"):
        load_migrations(tmp_path)
