"""Logins/s and p50/p99 at concurrency 16 against auth alone, with the production argon2
parameters; and GET /me p99 while that load runs against its p99 without it (the event
loop must not block while argon2 works: DESIGN.md §8)."""

from __future__ import annotations

import asyncio
import multiprocessing
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import httpx

from bench.stack import bench_stack, percentile, verify_every_registration
from bench.summary import Summary
from sportslog_testing import devstack

# Within auth's default argon2 bound (PASSWORD_HASH_QUEUE 64 waiting + one thread a core),
# so every login is admitted and a 503 `busy` here is a regression, not load shedding.
CONCURRENCY = 16
LOAD_SECONDS = 10.0
ME_SAMPLES = 300
PASSWORD = "bench password 1"


def _sample(base_url: str, path: str, headers: dict[str, str], n: int) -> list[float]:
    # Its own process and a plain sync client, so the load generator's event loop does not
    # add its own delays to what is measured.
    samples = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for _ in range(n):
            started = time.perf_counter()
            r = client.get(path, headers=headers)
            samples.append(time.perf_counter() - started)
            assert r.status_code == 200, r.text
    return samples


async def latencies(base_url: str, headers: dict[str, str], n: int) -> dict[str, list[float]]:
    """GET /me (token check + 2 queries) and GET /health (the event loop alone)."""
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return {
            path: await loop.run_in_executor(pool, _sample, base_url, path, headers, n)
            for path in ("/me", "/health")
        }


async def login_load(client: httpx.AsyncClient, email: str, stop_at: float) -> list[float]:
    samples = []
    while time.perf_counter() < stop_at:
        started = time.perf_counter()
        r = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
        samples.append(time.perf_counter() - started)
        assert r.status_code == 200, r.text
    return samples


async def main(summary: Summary) -> None:
    # Production argon2 (the defaults) and no throttling in the way of one account's load.
    env = {"LOGIN_MAX_FAILURES_PER_ACCOUNT": "1000000", "LOGIN_MAX_FAILURES_PER_IP": "1000000"}
    async with bench_stack(env) as stack:
        with tempfile.TemporaryDirectory() as logs:
            processes = devstack.start(stack, Path(logs), services=("auth",))
            try:
                await devstack.wait_ready(stack, processes, timeout=60)
                await run(stack, summary)
                summary.rss(
                    "login", "after login load (peak)", {"auth": processes["auth"].pid}, peak=True
                )
            finally:
                devstack.stop(processes)


async def run(stack: devstack.Stack, summary: Summary) -> None:
    email = "bench@example.com"
    limits = httpx.Limits(max_connections=CONCURRENCY + 4)
    async with httpx.AsyncClient(base_url=stack.url("auth"), timeout=30, limits=limits) as client:
        r = await client.post("/auth/register", json={"email": email, "password": PASSWORD})
        assert r.status_code == 202
        await verify_every_registration(stack)
        tokens = (
            await client.post("/auth/login", json={"email": email, "password": PASSWORD})
        ).json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}

        idle = await latencies(stack.url("auth"), headers, ME_SAMPLES)

        stop_at = time.perf_counter() + LOAD_SECONDS
        loaders = [
            asyncio.create_task(login_load(client, email, stop_at)) for _ in range(CONCURRENCY)
        ]
        await asyncio.sleep(1.0)  # let the load reach steady state
        loaded = await latencies(stack.url("auth"), headers, ME_SAMPLES)
        logins = [s for task in await asyncio.gather(*loaders) for s in task]

    rate = len(logins) / LOAD_SECONDS
    print(f"login: {rate:6.1f} logins/s at concurrency {CONCURRENCY} (argon2id m=19456 t=2 p=1)")
    p50, p99 = percentile(logins, 0.5) * 1000, percentile(logins, 0.99) * 1000
    print(f"login: p50 {p50:6.1f} ms  p99 {p99:6.1f} ms")
    summary.add("login", f"logins/s, concurrency {CONCURRENCY}, production argon2", f"{rate:.1f}")
    quiet, busy = percentile(idle["/me"], 0.99) * 1000, percentile(loaded["/me"], 0.99) * 1000
    summary.add(
        "login",
        "GET /me p99 idle -> under login load",
        f"{quiet:.2f} ms -> {busy:.2f} ms ({busy / quiet:.1f}x)",
    )
    for path in ("/me", "/health"):
        for label, q in (("p50", 0.5), ("p99", 0.99)):
            quiet, busy = percentile(idle[path], q) * 1000, percentile(loaded[path], q) * 1000
            print(
                f"login: GET {path:<7} {label} idle {quiet:6.2f} ms, "
                f"under login load {busy:6.2f} ms -> {busy / quiet:4.1f}x"
            )
