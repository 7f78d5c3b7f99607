"""PostgreSQL faults, against services started for the test on a database of their own:
every connection of that database killed under load (the service recovers by itself, the
outbox relay too), and PostgreSQL unreachable (503 `upstream_unavailable` and a `/ready`
naming it, never a 500; back to normal when it returns)."""

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from sportslog_testing import wait_until
from sportslog_testing.tcp_proxy import TcpProxy

PASSWORD = "a long enough secret"


async def own_service(stack, create_database, processes, broker_names, service, postgres_url=None):
    """`service` alone on a fresh database (reached through `postgres_url` if given) and
    the stack's secrets; returns (base url, database name, process). Auth publishes on the
    stack's exchange (its notifier sends the emails); activities, which consumes, gets an
    exchange of its own, so it takes no event meant for the stack's activities."""
    database = (await create_database(f"fault_{service}")).rsplit("/", 1)[1]
    changes = {"postgres_url": postgres_url} if postgres_url else {}
    if service == "activities":
        changes |= {
            "events_exchange": broker_names.exchange,
            "dead_letter_exchange": broker_names.dead_letter_exchange,
        }
    config, process = await processes.start_alone(stack, service, database=database, **changes)
    return config.url(service), database, process


def request_for(service, user_headers):
    """One representative write of `service`: a registration, a new activity."""

    async def send(client: httpx.AsyncClient) -> httpx.Response:
        if service == "auth":
            email = f"fault-{uuid.uuid4().hex[:12]}@example.com"
            return await client.post("/auth/register", json={"email": email, "password": PASSWORD})
        started_at = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(seconds=uuid.uuid4().int % 10**8)
        body = {"activity_type": "run", "started_at": started_at.isoformat(), "duration_secs": 60}
        return await client.post("/activities", json=body, headers=user_headers)

    return send


async def terminate_backends(admin_url: str, database: str) -> int:
    """pg_terminate_backend for every connection to `database` (and no other)."""
    conn = await asyncpg.connect(admin_url)
    try:
        return await conn.fetchval(
            """
            SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
            FROM pg_stat_activity
            WHERE datname = $1 AND pid <> pg_backend_pid()
            """,
            database,
        )
    finally:
        await conn.close()


def assert_clean_503(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "upstream_unavailable", response.text
    assert response.headers["Retry-After"] == "1"


@pytest.mark.parametrize("service", ["auth", "activities"])
async def test_killed_database_connections_under_load_recover_without_restart(
    service,
    stack,
    create_database,
    processes,
    broker_names,
    postgres_admin_url,
    user_headers,
    smtp_server,
):
    url, database, process = await own_service(
        stack, create_database, processes, broker_names, service
    )
    send = request_for(service, user_headers)
    responses: list[httpx.Response] = []
    sent: list[str] = []  # auth: the addresses of the registrations answered 202
    stop = asyncio.Event()

    async def worker(client: httpx.AsyncClient) -> None:
        while not stop.is_set():
            r = await send(client)
            responses.append(r)
            if service == "auth" and r.status_code == 202:
                sent.append(json.loads(r.request.content)["email"])

    async with httpx.AsyncClient(base_url=url, timeout=15) as client:
        workers = [asyncio.create_task(worker(client)) for _ in range(8)]
        try:
            killed = []
            for _ in range(3):
                # Each round: the service is doing work (some answered since the last kill)...
                done = len(responses)
                await wait_until(lambda d=done: len(responses) >= d + 15, timeout=30)
                # ...when every one of its connections, the relay's LISTEN one too, dies.
                killed.append(await terminate_backends(postgres_admin_url, database))
            after_kills = len(responses)
            await wait_until(
                lambda: sum(r.is_success for r in responses[after_kills:]) >= 20,
                timeout=30,
                message="requests succeeding again",
            )
        finally:
            stop.set()
            outcomes = await asyncio.gather(*workers, return_exceptions=True)

        # Every request got an answer (no reset connection, no hang)...
        assert [o for o in outcomes if o is not None] == []
        assert all(killed), killed
        # ...a success or a clean 503, never a 500.
        for r in responses:
            if not r.is_success:
                assert_clean_503(r)
        # Recovered by itself: the same process, ready, and every request succeeding.
        assert process.poll() is None
        assert (await client.get("/ready")).status_code == 200
        for r in await asyncio.gather(*(send(client) for _ in range(10))):
            assert r.is_success, r.text

    if service == "auth":
        # The outbox relay came back too: every accepted registration's email arrives
        # (the shared stack's notifier consumes this exchange).
        for email in sent:
            await smtp_server.wait_for(email, timeout=30)


async def postgres_proxy(admin_url: str) -> tuple[TcpProxy, str]:
    """A proxy to PostgreSQL, started, and the admin URL through it: cut or hold it to
    take the database away from one service."""
    target = urlsplit(admin_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await proxy.start()
    netloc = f"{target.username or 'postgres'}@127.0.0.1:{proxy.port}"
    return proxy, target._replace(netloc=netloc).geturl()


@pytest.mark.parametrize("service", ["auth", "activities"])
async def test_database_unreachable_is_503_then_recovers(
    service, stack, create_database, processes, broker_names, postgres_admin_url, user_headers
):
    proxy, through_proxy = await postgres_proxy(postgres_admin_url)
    try:
        url, _, process = await own_service(
            stack, create_database, processes, broker_names, service, postgres_url=through_proxy
        )
        send = request_for(service, user_headers)
        async with httpx.AsyncClient(base_url=url, timeout=15) as client:
            assert (await send(client)).is_success

            await proxy.cut()
            for r in await asyncio.gather(*(send(client) for _ in range(5))):
                assert_clean_503(r)
            ready = await client.get("/ready")
            assert (ready.status_code, ready.json()["code"]) == (503, "not_ready")
            assert ready.json()["details"]["postgres"].startswith("unreachable")
            assert ready.json()["details"]["rabbitmq"] == "ok"

            await proxy.restore()

            async def back() -> bool:
                return (await send(client)).is_success

            await wait_until(back, timeout=15, message="the database back")
            assert (await client.get("/ready")).status_code == 200
            assert process.poll() is None
    finally:
        await proxy.stop()


async def test_database_stalled_is_503_after_the_command_timeout(
    stack, create_database, processes, broker_names, postgres_admin_url, user_headers
):
    # Packets to PostgreSQL go nowhere (a partition), rather than being refused.
    proxy, through_proxy = await postgres_proxy(postgres_admin_url)
    try:
        url, _, process = await own_service(
            stack, create_database, processes, broker_names, "activities", through_proxy
        )
        send = request_for("activities", user_headers)
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            assert (await send(client)).is_success
            proxy.hold()
            started = time.monotonic()
            ready, *stalled = await asyncio.gather(
                client.get("/ready"), *(send(client) for _ in range(3))
            )
            # /ready gives up after its own 2 s; requests after the pool's 5 s command or
            # connect timeout (asyncpg's default connect timeout is 60 s).
            assert time.monotonic() - started < 15
            assert ready.status_code == 503
            assert ready.json()["details"]["postgres"].startswith("unreachable")
            for r in stalled:
                assert_clean_503(r)
            proxy.release()

            async def back() -> bool:
                return (await send(client)).is_success

            await wait_until(back, timeout=15, message="the database back")
            assert process.poll() is None
    finally:
        await proxy.stop()
