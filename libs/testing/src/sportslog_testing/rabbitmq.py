from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aio_pika
import pytest

from sportslog_common.bus.connection import connect
from sportslog_common.bus.publisher import Publisher
from sportslog_common.bus.topology import CONSUMER_BINDINGS, queue_name, retry_queue_name

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/"


def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), 3):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    """TEST_AMQP_URL, else the local broker, else a testcontainers RabbitMQ."""
    url = os.environ.get("TEST_AMQP_URL", DEFAULT_URL)
    if _reachable(url):
        yield url
        return
    try:
        from testcontainers.rabbitmq import RabbitMqContainer

        container = RabbitMqContainer("rabbitmq:3.13").start()
    except Exception as exc:
        pytest.fail(f"RabbitMQ is not reachable at {url}, and no Docker engine ({exc})")
    try:
        params = container.get_connection_params()
        yield f"amqp://guest:guest@{params.host}:{params.port}/"
    finally:
        container.stop()


@dataclass
class BrokerNames:
    """Exchange and queue names unique to one test, deleted afterwards."""

    exchange: str
    dead_letter_exchange: str
    extra_queues: list[str] = field(default_factory=list)

    def queue(self, consumer: str) -> str:
        return queue_name(self.exchange, consumer)

    def all_queues(self) -> list[str]:
        consumers = [self.queue(c) for c in CONSUMER_BINDINGS]
        retries = [retry_queue_name(q) for q in [*consumers, *self.extra_queues]]
        return [*consumers, *retries, self.dead_letter_exchange, *self.extra_queues]


def new_broker_names() -> BrokerNames:
    prefix = f"test.{uuid.uuid4().hex[:10]}"
    return BrokerNames(exchange=f"{prefix}.events", dead_letter_exchange=f"{prefix}.dead")


@pytest.fixture
async def broker_names(amqp_url: str) -> AsyncIterator[BrokerNames]:
    names = new_broker_names()
    yield names
    connection = await aio_pika.connect(amqp_url)
    try:
        for queue in names.all_queues():
            channel = await connection.channel()
            with contextlib.suppress(Exception):
                await channel.queue_delete(queue)
        for exchange in (names.exchange, names.dead_letter_exchange):
            channel = await connection.channel()
            with contextlib.suppress(Exception):
                await channel.exchange_delete(exchange)
    finally:
        await connection.close()


@pytest.fixture
async def event_publisher(amqp_url: str, broker_names: BrokerNames) -> AsyncIterator[Publisher]:
    """Publishes envelopes on this test's own exchange, as a producing service would."""
    connection = await connect(amqp_url)
    publisher = Publisher(connection, broker_names.exchange)
    await publisher.start()
    yield publisher
    await connection.close()
