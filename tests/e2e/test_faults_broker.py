"""RabbitMQ down while users register and reset their passwords: every call still
succeeds (the events wait in auth's outbox), and once the broker is back every email
arrives, each exactly once.

The shared broker must never be stopped, so this test runs a private RabbitMQ node and
its own auth, notifier and gateway against it."""

import dataclasses
import re
import uuid

import asyncpg
import httpx
import pytest

from sportslog_common.bus.topology import queue_name, retry_queue_name
from sportslog_testing import free_port, wait_until
from sportslog_testing.postgres import with_database
from sportslog_testing.rabbitmq_node import RabbitNode

TOKEN = re.compile(r"token=([A-Za-z0-9_\-]+)")
OLD_PASSWORD, NEW_PASSWORD = "the old password", "the new password"
EXISTING, NEWCOMERS = 4, 8


@pytest.fixture
async def rabbit_node(tmp_path):
    node = RabbitNode(tmp_path / "rabbit")
    await node.start()
    try:
        yield node
    finally:
        node.stop()


def emails(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i}-{uuid.uuid4().hex[:8]}@example.com" for i in range(count)]


async def test_broker_down_while_users_register_and_reset_passwords(
    stack, rabbit_node, processes, create_database, smtp_fake
):
    databases = {
        service: (await create_database(f"outage_{service}")).rsplit("/", 1)[1]
        for service in ("auth", "notifier")
    }
    config = dataclasses.replace(
        stack,
        amqp_url=rabbit_node.url,
        databases={**stack.databases, **databases},
        ports={**stack.ports, **{s: free_port() for s in ("auth", "notifier", "gateway")}},
        smtp_port=smtp_fake.port,
    )
    await processes.start(config, "auth", "notifier", "gateway")
    auth_db = with_database(stack.postgres_url, databases["auth"])

    async def outbox(*types: str) -> int:
        conn = await asyncpg.connect(auth_db)
        try:
            if types:
                query = "SELECT count(*) FROM outbox WHERE type = ANY($1::text[])"
                return await conn.fetchval(query, list(types))
            return await conn.fetchval("SELECT count(*) FROM outbox")
        finally:
            await conn.close()

    async with httpx.AsyncClient(base_url=config.url("gateway"), timeout=30) as client:
        # Before: users who signed up and asked for a reset link while all was well.
        existing = emails("existing", EXISTING)
        reset_tokens = {}
        for email in existing:
            r = await client.post("/auth/register", json={"email": email, "password": OLD_PASSWORD})
            assert r.status_code == 202
            await smtp_fake.wait_for(email)
            assert (await client.post("/auth/forgot-password", json={"email": email})).is_success
            reset_tokens[email] = TOKEN.search((await smtp_fake.wait_for(email, 2)).text())[1]
        await wait_until(lambda: outbox_is_empty(outbox), timeout=15, message="outbox drained")
        mails_before = len(smtp_fake.messages)

        await rabbit_node.stop_app()
        await wait_until(
            lambda: broker_unreachable(config.url("auth")),
            timeout=15,
            message="auth to see the broker gone",
        )

        # During: every call succeeds.
        newcomers = emails("newcomer", NEWCOMERS)
        for email in newcomers:
            r = await client.post("/auth/register", json={"email": email, "password": OLD_PASSWORD})
            assert r.status_code == 202, r.text
        for email in existing:
            body = {"token": reset_tokens[email], "new_password": NEW_PASSWORD}
            r = await client.post("/auth/reset-password", json=body)
            assert r.status_code == 200, r.text
            r = await client.post("/auth/forgot-password", json={"email": email})
            assert r.status_code == 200, r.text
            r = await client.post("/auth/login", json={"email": email, "password": NEW_PASSWORD})
            assert r.status_code == 200, r.text
        # The events wait in the outbox; nothing could be sent.
        waiting = await outbox(
            "user.registered", "user.password_changed", "user.password_reset_requested"
        )
        assert waiting == NEWCOMERS + 2 * EXISTING
        assert len(smtp_fake.messages) == mails_before

        await rabbit_node.start_app()

        # After: each message arrives...
        expected = {e: 1 for e in newcomers} | {e: 4 for e in existing}

        def all_arrived() -> bool:
            return all(len(smtp_fake.to(e)) >= n for e, n in expected.items())

        await wait_until(all_arrived, timeout=60, message="every email after the outage")

        # ...and, once nothing is left anywhere that could still send, exactly once.
        notifier_queue = queue_name(config.events_exchange, "notifier")

        async def settled() -> bool:
            queues = await rabbit_node.queues()
            return await outbox() == 0 and all(
                queues.get(q, (0, 0)) == (0, 0)
                for q in (notifier_queue, retry_queue_name(notifier_queue))
            )

        await wait_until(settled, timeout=30, message="outbox and queues empty")

    for email, count in expected.items():
        subjects = [m.subject for m in smtp_fake.to(email)]
        assert len(subjects) == count, (email, subjects)
        ids = {m.message["Message-ID"] for m in smtp_fake.to(email)}
        assert len(ids) == count, (email, ids)
    for email in existing:
        subjects = [m.subject for m in smtp_fake.to(email)]
        assert sum("password was changed" in s for s in subjects) == 1, subjects
        assert sum(s.startswith("Reset your") for s in subjects) == 2, subjects


async def outbox_is_empty(outbox) -> bool:
    return await outbox() == 0


async def broker_unreachable(auth_url: str) -> bool:
    async with httpx.AsyncClient(timeout=5) as client:
        ready = await client.get(f"{auth_url}/ready")
    return ready.status_code == 503 and ready.json()["details"]["rabbitmq"] != "ok"
