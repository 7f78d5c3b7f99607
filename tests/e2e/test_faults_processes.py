"""Processes that die or are told to stop, each one started for the test beside the shared
stack: SIGTERM lets the requests in flight finish (auth, activities, gateway), and a
notifier killed with SIGKILL in the middle of a burst of 200 emails loses none and shows
none twice.

"In flight" is made certain, not hoped for: the requests are held where the service waits
on something we control (a table lock in its own database, a proxy in front of its
upstream), counted there, and released only once the signal has closed the listening port.
"""

import asyncio
import dataclasses
import signal
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import aio_pika
import asyncpg
import httpx
import pytest

from sportslog_common.bus.topology import retry_queue_name
from sportslog_testing import free_port, wait_until
from sportslog_testing.postgres import with_database
from sportslog_testing.tcp_proxy import TcpProxy

PASSWORD = "a long enough secret"
GRACE_SECONDS = 20  # uvicorn's timeout_graceful_shutdown (sportslog_common.service.serve)
IN_FLIGHT = 6


class TableLock:
    """Stalls a service on its own database: a SHARE lock on one table, so its requests
    that write there wait, each one a lock waiter in pg_stat_activity."""

    def __init__(self, url: str, table: str) -> None:
        self.url, self.table = url, table
        self.database = url.rsplit("/", 1)[1]
        self._conn: asyncpg.Connection | None = None
        self._watcher: asyncpg.Connection | None = None
        self._tx = None

    async def hold(self) -> None:
        self._watcher = await asyncpg.connect(self.url)
        self._conn = await asyncpg.connect(self.url)
        self._tx = self._conn.transaction()
        await self._tx.start()
        await self._conn.execute(f'LOCK TABLE "{self.table}" IN SHARE MODE')

    async def held(self) -> int:
        # Asked from outside the lock's transaction, which would see one snapshot of
        # pg_stat_activity for its whole life.
        return await self._watcher.fetchval(
            """
            SELECT count(*) FROM pg_stat_activity
            WHERE datname = $1 AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()
            """,
            self.database,
        )

    async def release(self) -> None:
        for conn in (self._conn, self._watcher):
            if conn is not None and not conn.is_closed():
                await conn.close()  # ends the lock's transaction too


class UpstreamStall:
    """Stalls the gateway on its upstream: the proxy in between holds what it forwards."""

    def __init__(self, proxy: TcpProxy) -> None:
        self.proxy = proxy

    async def hold(self) -> None:
        self.proxy.hold()

    async def held(self) -> int:
        return self.proxy.held

    async def release(self) -> None:
        self.proxy.release()


async def refused(url: str) -> bool:
    """True once the port takes no new connection: the listening socket is closed."""
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            await client.get(f"{url}/health")
    except httpx.ConnectError:
        return True
    except (httpx.ReadError, httpx.RemoteProtocolError):
        # This probe's connection raced the close (opened, never read by the app): the
        # port is closing, not closed yet. Ask again.
        return False
    return False


@pytest.fixture
async def holding_proxies():
    proxies = []

    async def start(port: int) -> TcpProxy:
        proxy = TcpProxy("127.0.0.1", port)
        await proxy.start()
        proxies.append(proxy)
        return proxy

    yield start
    for proxy in proxies:
        await proxy.stop()


async def service_to_stall(
    service, stack, processes, create_database, holding_proxies, broker_names, user_headers
):
    """`service` started for the test: (base url, process, one request, its stall)."""
    if service == "gateway":
        proxy = await holding_proxies(stack.ports["activities"])
        config, process = await processes.start_alone(
            stack, "gateway", extra_env={"ACTIVITIES_URL": f"http://127.0.0.1:{proxy.port}"}
        )

        async def list_activities(client):
            return await client.get("/activities", headers=user_headers)

        return config.url("gateway"), process, list_activities, UpstreamStall(proxy)

    db_url = await create_database(f"term_{service}")
    # On its own database; activities, which consumes, on an exchange of its own too.
    changes = {}
    if service == "activities":
        changes = {
            "events_exchange": broker_names.exchange,
            "dead_letter_exchange": broker_names.dead_letter_exchange,
        }
    config, process = await processes.start_alone(
        stack, service, database=db_url.rsplit("/", 1)[1], **changes
    )

    async def write(client):
        if service == "auth":
            email = f"term-{uuid.uuid4().hex[:12]}@example.com"
            return await client.post("/auth/register", json={"email": email, "password": PASSWORD})
        started_at = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(seconds=uuid.uuid4().int % 10**8)
        body = {"activity_type": "run", "started_at": started_at.isoformat(), "duration_secs": 60}
        return await client.post("/activities", json=body, headers=user_headers)

    table = "users" if service == "auth" else "activities"
    return config.url(service), process, write, TableLock(db_url, table)


@pytest.mark.parametrize("service", ["auth", "activities", "gateway"])
async def test_sigterm_lets_the_requests_in_flight_finish(
    service, stack, processes, create_database, holding_proxies, broker_names, user_headers
):
    url, process, send, stall = await service_to_stall(
        service, stack, processes, create_database, holding_proxies, broker_names, user_headers
    )

    async def all_held() -> bool:
        return await stall.held() >= IN_FLIGHT

    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            assert (await send(client)).is_success  # warm: keys fetched, pools open
            await stall.hold()
            in_flight = [asyncio.create_task(send(client)) for _ in range(IN_FLIGHT)]
            await wait_until(all_held, timeout=15, message="the requests held in the service")
            signalled = time.monotonic()
            process.send_signal(signal.SIGTERM)
            # Shutting down: no new connection is taken, while those requests still wait.
            await wait_until(lambda: refused(url), timeout=10, message="the port closed")
            assert process.poll() is None
            await stall.release()
            # Every request the service had taken got its whole answer: no reset, no 5xx.
            for response in await asyncio.gather(*in_flight):
                assert response.is_success, response.text
    finally:
        await stall.release()
    code = await asyncio.to_thread(process.wait, GRACE_SECONDS + 5)
    # uvicorn re-raises the signal after its graceful shutdown, so the status says
    # "ended by SIGTERM" (not a crash, not a SIGKILL after overstaying the grace period).
    assert code in (0, -signal.SIGTERM), processes.logs(service)
    assert time.monotonic() - signalled < GRACE_SECONDS


async def test_notifier_sigkilled_in_a_burst_of_200_delivers_each_email_once(
    stack, processes, create_database, broker_names, smtp_fake, amqp_url
):
    databases = {
        service: (await create_database(f"burst_{service}")).rsplit("/", 1)[1]
        for service in ("auth", "notifier")
    }
    # Auth and a notifier of their own, on this test's exchange and mail server, so the
    # shared stack sees none of it. A short lease: a send cut by the kill is retried soon.
    config = dataclasses.replace(
        stack,
        databases={**stack.databases, **databases},
        ports={**stack.ports, "auth": free_port(), "notifier": free_port()},
        events_exchange=broker_names.exchange,
        dead_letter_exchange=broker_names.dead_letter_exchange,
        smtp_port=smtp_fake.port,
        extra_env={**stack.extra_env, "DELIVERY_LEASE_SECONDS": "3", "RETRY_BACKOFF_BASE": "0.5"},
    )
    started = await processes.start(config, "auth", "notifier")
    emails = [f"burst{i}-{uuid.uuid4().hex[:8]}@example.com" for i in range(200)]

    async def register_all() -> None:
        async with httpx.AsyncClient(base_url=config.url("auth"), timeout=30) as client:
            for start in range(0, len(emails), 10):
                batch = emails[start : start + 10]
                for r in await asyncio.gather(
                    *(
                        client.post("/auth/register", json={"email": e, "password": PASSWORD})
                        for e in batch
                    )
                ):
                    assert r.status_code == 202, r.text

    burst = asyncio.create_task(register_all())
    try:
        await wait_until(lambda: len(smtp_fake.messages) >= 40, timeout=30, message="mail flowing")
        started["notifier"].kill()  # SIGKILL: nothing gets to finish
        await asyncio.to_thread(started["notifier"].wait)
        sent_before_kill = len({a for m in smtp_fake.messages for a in m.rcpt_tos})
        assert sent_before_kill < len(emails)  # the burst was cut in the middle
        await processes.start(config, "notifier")
        await burst
    finally:
        if not burst.done():
            burst.cancel()

    def delivered() -> bool:
        return all(smtp_fake.to(e) for e in emails)

    await wait_until(delivered, timeout=60, message="an email to each of the 200")

    notifier_db = with_database(stack.postgres_url, databases["notifier"])
    auth_db = with_database(stack.postgres_url, databases["auth"])

    async def settled() -> bool:
        """Nothing left anywhere that could still send: outbox, queues, open leases."""
        auth = await asyncpg.connect(auth_db)
        notifier = await asyncpg.connect(notifier_db)
        try:
            pending = await auth.fetchval("SELECT count(*) FROM outbox")
            open_rows = await notifier.fetchval(
                "SELECT count(*) FROM deliveries WHERE status <> 'sent'"
            )
        finally:
            await auth.close()
            await notifier.close()
        queue = broker_names.queue("notifier")
        depths = [await queue_depth(amqp_url, q) for q in (queue, retry_queue_name(queue))]
        return pending == 0 and open_rows == 0 and depths == [0, 0]

    await wait_until(settled, timeout=30, message="outbox, queues and leases empty")

    conn = await asyncpg.connect(notifier_db)
    try:
        sent = await conn.fetchval("SELECT count(*) FROM deliveries WHERE status = 'sent'")
    finally:
        await conn.close()
    assert sent == len(emails)  # one delivery per event, each recorded once
    retransmitted = 0
    for email in emails:
        mails = smtp_fake.to(email)
        # One message per user: a send the kill cut short may reach the server twice, then
        # as the very same message (same Message-ID), which mail clients show once.
        assert len(Counter(m.message["Message-ID"] for m in mails)) == 1, email
        assert mails[0].subject.startswith("Verify"), mails[0].subject
        retransmitted += len(mails) - 1
    # Only what was in the notifier's hands at the kill (its prefetch window) is resent.
    assert retransmitted <= 20, retransmitted


async def queue_depth(amqp_url: str, queue: str) -> int:
    connection = await aio_pika.connect(amqp_url)
    try:
        declared = await (await connection.channel()).declare_queue(queue, passive=True)
        return declared.declaration_result.message_count or 0
    finally:
        await connection.close()
