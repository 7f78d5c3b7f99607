"""`make bench`: figures, not assertions. Each benchmark prints what it measured.

startup: seconds from launching the four services to every `/ready` answering 200, and
each service's resident memory at idle. Uses fresh uniquely named databases and exchange
on the local PostgreSQL / RabbitMQ (POSTGRES_URL, AMQP_URL), dropped afterwards.
"""

from __future__ import annotations

import asyncio
import base64
import os
import tempfile
import time
import uuid
from pathlib import Path

import aio_pika
import asyncpg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sportslog_common import devstack
from sportslog_common.bus import CONSUMER_BINDINGS, queue_name
from sportslog_common.testing import free_port

POSTGRES_URL = os.environ.get("POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_URL = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def startup() -> None:
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
        )
        await devstack.create_databases(stack)
        processes = devstack.start(stack, Path(tmp))
        try:
            # First start applies every migration; the second is what a restart costs.
            cold = await devstack.wait_ready(stack, processes, timeout=90)
            devstack.stop(processes)
            processes = devstack.start(stack, Path(tmp))
            warm = await devstack.wait_ready(stack, processes, timeout=90)
            await asyncio.sleep(3)  # let start-up garbage settle before reading RSS
            print(f"startup: ready (4 services, fresh databases)   {cold:6.2f} s")
            print(f"startup: ready (4 services, migrated)          {warm:6.2f} s")
            for name, process in processes.items():
                print(f"idle RSS {name:<11} {rss_kib(process.pid) / 1024:7.1f} MiB")
        finally:
            devstack.stop(processes)
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
        for queue in [*queues, stack.dead_letter_exchange]:
            await channel.queue_delete(queue)
        for exchange in (stack.events_exchange, stack.dead_letter_exchange):
            await channel.exchange_delete(exchange)
    finally:
        await broker.close()


if __name__ == "__main__":
    started = time.monotonic()
    asyncio.run(startup())
    print(f"bench total {time.monotonic() - started:.1f} s")
