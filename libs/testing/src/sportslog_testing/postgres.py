from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _reachable(url: str) -> bool:
    import asyncio

    async def probe() -> None:
        conn = await asyncpg.connect(url, timeout=3)
        await conn.close()

    try:
        asyncio.run(probe())
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    return True


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """TEST_POSTGRES_URL, else the local server, else a testcontainers PostgreSQL."""
    url = os.environ.get("TEST_POSTGRES_URL", DEFAULT_URL)
    if _reachable(url):
        yield url
        return
    try:
        from testcontainers.postgres import PostgresContainer
    except ImportError:  # pragma: no cover
        pytest.fail(f"PostgreSQL is not reachable at {url} and testcontainers is missing")
    try:
        container = PostgresContainer("postgres:15", driver=None).start()
    except Exception as exc:  # no Docker engine either
        pytest.fail(f"PostgreSQL is not reachable at {url}, and no Docker engine ({exc})")
    try:
        yield container.get_connection_url()
    finally:
        container.stop()


CreateDatabase = Callable[[str], Awaitable[str]]


@pytest.fixture(scope="session")
async def create_database(postgres_admin_url: str) -> AsyncIterator[CreateDatabase]:
    """Factory: a fresh uniquely named database; every one is dropped after the session."""
    created: list[str] = []

    async def create(label: str = "db") -> str:
        name = f"sportslog_test_{label}_{uuid.uuid4().hex[:10]}"
        conn = await asyncpg.connect(postgres_admin_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        created.append(name)
        return with_database(postgres_admin_url, name)

    yield create

    conn = await asyncpg.connect(postgres_admin_url)
    try:
        for name in created:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
