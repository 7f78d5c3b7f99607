"""The gateway's cost: an authenticated GET /activities?limit=20 through the gateway against
the same request straight to the activities service, concurrency 32, one run; and GET
/health on the gateway alone, its ceiling. Needs `wrk`."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench.activities import wrk
from bench.stack import bench_stack, verify_every_registration
from bench.summary import Summary
from sportslog_testing import devstack

PASSWORD = "bench password 1"


async def main(summary: Summary) -> None:
    env = {"RATE_LIMIT_DEFAULT": "100000000/minute", "RATE_LIMIT_AUTH": "100000000/minute"}
    async with bench_stack(env) as stack:
        with tempfile.TemporaryDirectory() as logs:
            services = ("auth", "activities", "gateway")
            processes = devstack.start(stack, Path(logs), services=services)
            try:
                await devstack.wait_ready(stack, processes, timeout=60)
                await run(stack, summary)
                pids = {name: process.pid for name, process in processes.items()}
                summary.rss("gateway", "after wrk load (peak)", pids, peak=True)
            finally:
                devstack.stop(processes)


async def run(stack: devstack.Stack, summary: Summary) -> None:
    gateway = stack.url("gateway")
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as client:
        await client.post("/auth/register", json={"email": "gw@example.com", "password": PASSWORD})
        await verify_every_registration(stack)
        login = await client.post(
            "/auth/login", json={"email": "gw@example.com", "password": PASSWORD}
        )
        token = login.json()["access_token"]
        start = datetime(2026, 1, 1, tzinfo=UTC)
        for i in range(40):
            body = {
                "activity_type": "run",
                "duration_secs": 1800,
                "started_at": (start + timedelta(days=i)).isoformat(),
            }
            await client.post(
                "/activities", json=body, headers={"Authorization": f"Bearer {token}"}
            )

    direct = wrk(f"{stack.url('activities')}/activities?limit=20", token)
    through = wrk(f"{gateway}/activities?limit=20", token)
    health = wrk(f"{gateway}/health", token)
    print("gateway: wrk -t2 -c32 -d10s, authenticated GET /activities?limit=20 (one run)")
    for label, figures in (("direct to activities", direct), ("through the gateway", through)):
        print(
            f"gateway: {label:<22} {figures['rps']:7.0f} req/s  p50 {figures['p50']:6.2f} ms  "
            f"p99 {figures['p99']:6.2f} ms  (non-2xx {figures['errors']:.0f})"
        )
    print(
        f"gateway: cost: {direct['rps'] / through['rps']:4.2f}x fewer req/s, "
        f"p50 {through['p50'] / direct['p50']:4.2f}x"
    )
    summary.add(
        "gateway",
        "GET /activities req/s direct -> via gateway",
        f"{direct['rps']:.0f} -> {through['rps']:.0f} ({direct['rps'] / through['rps']:.2f}x)",
    )
    summary.add(
        "gateway",
        "GET /activities p99 direct -> via gateway",
        f"{direct['p99']:.2f} ms -> {through['p99']:.2f} ms",
    )
    print(
        f"gateway: GET /health on the gateway alone {health['rps']:7.0f} req/s "
        f"p50 {health['p50']:6.2f} ms  p99 {health['p99']:6.2f} ms"
    )
