import asyncio
import errno
import socket
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import aio_pika
import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from prometheus_client import REGISTRY

from sportslog_common import db
from sportslog_common.logging import configure_logging
from sportslog_common.service import build_app, ready_checks
from sportslog_testing import wait_until
from sportslog_testing.tcp_proxy import TcpProxy


async def test_pool_waits_for_postgres_to_come_up(events_db, capsys):
    configure_logging("test", "INFO", "json")
    parts = urlsplit(events_db)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.start()
    await proxy.cut()  # PostgreSQL "still starting": connections refused
    proxied = events_db.replace(f"{parts.hostname}:{parts.port}", f"127.0.0.1:{proxy.port}")
    creating = asyncio.create_task(db.create_pool(proxied, min_size=1, max_size=1, wait_seconds=30))
    try:
        await wait_until(
            lambda: "waiting_for_postgres" in capsys.readouterr().out, message="a retry"
        )
        assert not creating.done()
        await proxy.restore()
        pool = await asyncio.wait_for(creating, timeout=20)
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT 1") == 1
        await pool.close()
    finally:
        creating.cancel()
        await proxy.stop()


async def test_pool_gives_up_after_its_deadline():
    with pytest.raises(OSError):
        await db.create_pool("postgresql://postgres@127.0.0.1:9/x", wait_seconds=0.5)


async def test_jsonb_round_trips_as_python_objects(pool):
    async with pool.acquire() as conn:
        value = await conn.fetchval("SELECT $1::jsonb", {"a": [1, 2, {"b": None}]})
    assert value == {"a": [1, 2, {"b": None}]}


async def test_ready_is_503_naming_what_is_down(events_db, amqp_url):
    pool = await db.create_pool(events_db, min_size=1, max_size=1)
    connection = await aio_pika.connect_robust(amqp_url)

    async def lifespan(app: FastAPI):
        app.state.pool = pool
        app.state.ready_checks = ready_checks(pool, connection)
        yield

    app = build_app("test", asynccontextmanager(lifespan))
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            ok = await client.get("/ready")
            assert ok.status_code == 200
            assert ok.json()["checks"] == {"postgres": "ok", "rabbitmq": "ok"}
            text = (await client.get("/metrics")).text
            assert 'sportslog_db_pool_connections{state="size"} 1.0' in text
            idle = REGISTRY.get_sample_value("sportslog_db_pool_connections", {"state": "idle"})
            assert idle == 1

            await connection.close()
            r = await client.get("/ready")
            assert r.status_code == 503
            assert r.json()["code"] == "not_ready"
            assert r.json()["details"]["postgres"] == "ok"
            assert r.json()["details"]["rabbitmq"].startswith("unreachable")

            await pool.close()
            r = await client.get("/ready")
            assert r.status_code == 503
            assert "postgres, rabbitmq" in r.json()["error"]


@pytest.mark.parametrize(
    "url",
    [
        # A database host whose name does not resolve: a container that is gone (issue 18:
        # PostgreSQL killed under compose answered 500 before).
        "postgresql://postgres@no-such-host.invalid:5432/postgres",
    ],
)
async def test_a_database_host_gone_from_dns_is_503_not_500(url):
    async def lifespan(app: FastAPI):
        yield

    app = build_app("test", asynccontextmanager(lifespan))

    @app.get("/needs-the-database")
    async def needs_the_database() -> None:
        await asyncpg.connect(url, timeout=5)  # what a pool does to replace a connection

    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            r = await client.get("/needs-the-database")
    assert r.status_code == 503
    assert r.json()["code"] == "upstream_unavailable"
    assert r.headers["Retry-After"] == "1"


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (OSError(errno.EHOSTUNREACH, "No route to host"), True),
        (OSError(errno.ENETUNREACH, "Network is unreachable"), True),
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), True),
        (OSError(errno.ENOENT, "No such file or directory"), False),  # a bug, not an outage
    ],
)
def test_which_os_errors_mean_the_database_is_away(error, unavailable):
    assert db.is_unavailable(error) is unavailable
