"""The process's one robust connection to RabbitMQ, made at start-up."""

from __future__ import annotations

import aio_pika
from aio_pika.abc import AbstractRobustConnection
from aio_pika.exceptions import AMQPConnectionError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential


async def connect(
    url: str, *, wait_seconds: float = 30, reconnect_interval: float = 2
) -> AbstractRobustConnection:
    """One robust connection per process; waits for the broker at start-up."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type((OSError, AMQPConnectionError)),
        wait=wait_exponential(multiplier=0.2, max=2),
        stop=stop_after_delay(wait_seconds),
        reraise=True,
    ):
        with attempt:
            connection = await aio_pika.connect_robust(
                url, heartbeat=30, reconnect_interval=reconnect_interval
            )
    return connection
