"""The notifier as a real process: SIGTERM finishes what is in flight; SIGKILL in the middle
of a burst loses nothing, and no user sees a message twice (a resend after the crash
window carries the same Message-ID)."""

import os
import signal
import subprocess
import sys
import uuid
from collections import Counter

import aio_pika
import httpx
import pytest

from sportslog_common.events import Envelope, UserDeleted
from sportslog_testing import free_port, wait_until


@pytest.fixture
def start_notifier(notifier_db, amqp_url, broker_names, smtp, tmp_path):
    processes = []
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": notifier_db,
        "AMQP_URL": amqp_url,
        "EVENTS_EXCHANGE": broker_names.exchange,
        "DEAD_LETTER_EXCHANGE": broker_names.dead_letter_exchange,
        "SMTP_HOST": smtp.host,
        "SMTP_PORT": str(smtp.port),
        "EVENT_SEAL_KEY": "A" * 43 + "=",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "RETRY_BACKOFF_BASE": "0.5",
        "DELIVERY_LEASE_SECONDS": "3",
        "SMS_LOG_FILE": str(tmp_path / "sms.log"),
    }

    async def start() -> subprocess.Popen:
        # Popen returns at once; the process is awaited below through /ready.
        process = subprocess.Popen([sys.executable, "-m", "sportslog_notifier"], env=env)  # noqa: ASYNC220
        processes.append(process)

        async def ready():
            if process.poll() is not None:
                raise RuntimeError(f"notifier exited with {process.returncode}")
            try:
                async with httpx.AsyncClient() as client:
                    return (await client.get(f"http://127.0.0.1:{port}/ready")).status_code == 200
            except httpx.HTTPError:
                return False

        await wait_until(ready, timeout=30, message="the notifier process")
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


def goodbye(email: str) -> Envelope:
    return Envelope.wrap(UserDeleted(user_id=uuid.uuid4(), email=email), producer="auth")


async def queue_depth(amqp_url, queue) -> int:
    connection = await aio_pika.connect(amqp_url)
    try:
        declared = await (await connection.channel()).declare_queue(queue, passive=True)
        return declared.declaration_result.message_count
    finally:
        await connection.close()


async def test_sigterm_finishes_the_messages_in_flight(
    start_notifier, event_publisher, smtp, amqp_url, broker_names
):
    process = await start_notifier()
    smtp.slow_down(1.0)
    addresses = [f"term{i}-{uuid.uuid4().hex[:6]}@example.com" for i in range(5)]
    for address in addresses:
        await event_publisher.publish(goodbye(address))
    await wait_until(lambda: smtp.in_progress >= 3, message="sends in flight")
    process.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the signal so the exit status tells.
    assert process.wait(timeout=30) in (0, -signal.SIGTERM)
    # Everything that was in flight was sent, and nothing was left unacknowledged.
    assert all(smtp.to(a) for a in addresses)
    assert await queue_depth(amqp_url, broker_names.queue("notifier")) == 0


async def test_sigkill_in_a_burst_loses_nothing_and_shows_nothing_twice(
    start_notifier, event_publisher, smtp, notifier_db
):
    import asyncpg

    burst = [f"burst{i}-{uuid.uuid4().hex[:6]}@example.com" for i in range(120)]
    process = await start_notifier()
    for address in burst:
        await event_publisher.publish(goodbye(address))
    await wait_until(lambda: len(smtp.messages) >= 30, message="the burst under way")
    process.kill()  # SIGKILL: no chance to finish anything
    process.wait()
    await start_notifier()

    await wait_until(lambda: all(smtp.to(a) for a in burst), timeout=60, message="every email")
    for address in burst:
        ids = Counter(m.message["Message-ID"] for m in smtp.to(address))
        assert len(ids) == 1, (address, ids)  # at most a resend of the very same message
    # Each mail is recorded 'sent' just after the SMTP server took it: wait for the records.
    conn = await asyncpg.connect(notifier_db)
    try:

        async def recorded():
            sent = await conn.fetchval(
                "SELECT count(*) FROM deliveries"
                " WHERE status = 'sent' AND destination_masked LIKE 'b***@%'"
            )
            return sent if sent >= len(burst) else None

        sent = await wait_until(recorded, message="every delivery recorded as sent")
    finally:
        await conn.close()
    assert sent >= len(burst)
