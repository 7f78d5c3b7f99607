"""Emails per second sustained into an SMTP server with 1,000 events already queued, and
p50/p99 from event published to email accepted by the server at a steady 50 events/s."""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from pathlib import Path

import aio_pika

from bench.stack import bench_stack, percentile
from bench.summary import Summary
from sportslog_common.bus.publisher import Publisher
from sportslog_common.bus.topology import declare_topology
from sportslog_common.events import Envelope, UserDeleted
from sportslog_testing import SmtpFake, devstack, wait_until

QUEUED = 1000
STEADY = 300
STEADY_RATE = 50.0  # events per second


def goodbye(address: str) -> Envelope:
    return Envelope.wrap(UserDeleted(user_id=uuid.uuid4(), email=address), producer="bench")


async def main(summary: Summary) -> None:
    smtp = SmtpFake()
    smtp.start()
    try:
        async with bench_stack() as stack:
            stack.smtp_port = smtp.port
            await run(stack, smtp, summary)
    finally:
        smtp.stop()


async def run(stack: devstack.Stack, smtp: SmtpFake, summary: Summary) -> None:
    connection = await aio_pika.connect_robust(stack.amqp_url)
    channel = await connection.channel()
    await declare_topology(channel, stack.events_exchange, stack.dead_letter_exchange)
    publisher = Publisher(connection, stack.events_exchange)
    await publisher.start()
    queued = [f"q{i}@bench.example" for i in range(QUEUED)]
    await asyncio.gather(*(publisher.publish(goodbye(a)) for a in queued))

    with tempfile.TemporaryDirectory() as logs:
        processes = devstack.start(stack, Path(logs), services=("notifier",))
        try:
            await devstack.wait_ready(stack, processes, timeout=60)
            started = time.time()
            await wait_until(lambda: len(smtp.messages) >= QUEUED, timeout=300, interval=0.02)
            drained = max(m.received_at for m in smtp.messages) - started
            published: dict[str, float] = {}
            for i in range(STEADY):
                address = f"s{i}@bench.example"
                published[address] = time.time()
                await publisher.publish(goodbye(address))
                await asyncio.sleep(1 / STEADY_RATE)
            await wait_until(lambda: len(smtp.messages) >= QUEUED + STEADY, timeout=120)
            summary.rss(
                "notifier",
                "after the drain (peak)",
                {"notifier": processes["notifier"].pid},
                peak=True,
            )
        finally:
            devstack.stop(processes)
    await connection.close()

    received = {m.rcpt_tos[0]: m.received_at for m in smtp.messages}
    latencies = [received[a] - t for a, t in published.items()]
    print(
        f"notifier: {QUEUED} queued events drained in {drained:5.2f} s "
        f"-> {QUEUED / drained:6.1f} emails/s (prefetch 20, one process)"
    )
    print(
        f"notifier: published -> accepted by SMTP at {STEADY_RATE:.0f}/s: "
        f"p50 {percentile(latencies, 0.5) * 1000:6.1f} ms  "
        f"p99 {percentile(latencies, 0.99) * 1000:6.1f} ms"
    )
    summary.add("notifier", f"emails/s draining {QUEUED} queued events", f"{QUEUED / drained:.1f}")
    summary.add(
        "notifier",
        f"event -> email accepted at {STEADY_RATE:.0f}/s, p50 / p99",
        f"{percentile(latencies, 0.5) * 1000:.1f} ms / {percentile(latencies, 0.99) * 1000:.1f} ms",
    )
