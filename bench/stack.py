"""A throwaway stack for benchmarks: unique databases and exchange, dropped afterwards."""

from __future__ import annotations

import base64
import contextlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aio_pika
import asyncpg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sportslog_common.bus.topology import CONSUMER_BINDINGS, queue_name, retry_queue_name
from sportslog_testing import devstack, free_port

POSTGRES_URL = os.environ.get("POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_URL = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


@contextlib.asynccontextmanager
async def bench_stack(extra_env: dict[str, str] | None = None) -> AsyncIterator[devstack.Stack]:
    tag = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory() as tmp:
        key = Path(tmp) / "jwt.pem"
        key.write_bytes(
            Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        stack = devstack.Stack(
            postgres_url=POSTGRES_URL,
            amqp_url=AMQP_URL,
            ports={s: free_port() for s in devstack.SERVICES},
            key_file=key,
            token_hmac_secret=base64.b64encode(os.urandom(32)).decode(),
            event_seal_key=base64.b64encode(os.urandom(32)).decode(),
            databases={s: f"sportslog_bench_{s}_{tag}" for s in devstack.DATABASES},
            events_exchange=f"bench.{tag}.events",
            dead_letter_exchange=f"bench.{tag}.dead",
            smtp_port=free_port(),
            log_format="json",
            extra_env={"LOG_LEVEL": "WARNING", **(extra_env or {})},
        )
        await devstack.create_databases(stack)
        try:
            yield stack
        finally:
            await _drop(stack)


async def _drop(stack: devstack.Stack) -> None:
    conn = await asyncpg.connect(POSTGRES_URL)
    try:
        for name in stack.databases.values():
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
    broker = await aio_pika.connect(AMQP_URL)
    try:
        channel = await broker.channel()
        queues = [queue_name(stack.events_exchange, c) for c in CONSUMER_BINDINGS]
        queues += [retry_queue_name(q) for q in queues]
        for queue in [*queues, stack.dead_letter_exchange]:
            await channel.queue_delete(queue)
        for exchange in (stack.events_exchange, stack.dead_letter_exchange):
            await channel.exchange_delete(exchange)
    finally:
        await broker.close()


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def verify_every_registration(stack: devstack.Stack) -> None:
    """Set-up shortcut instead of running the notifier: every pending registration is
    activated as its verification link would (auth's registration.verify_email)."""
    conn = await asyncpg.connect(
        devstack.with_database(stack.postgres_url, stack.databases["auth"])
    )
    try:
        async with conn.transaction():
            await conn.execute(
                """
                INSERT INTO local_credentials (user_id, password_hash, email_verified)
                SELECT DISTINCT ON (user_id) user_id, password_hash, true
                FROM pending_registrations WHERE password_hash IS NOT NULL
                ORDER BY user_id, created_at DESC
                ON CONFLICT (user_id) DO NOTHING
                """
            )
            await conn.execute("DELETE FROM pending_registrations")
            await conn.execute("UPDATE users SET email_verified_at = now()")
    finally:
        await conn.close()
