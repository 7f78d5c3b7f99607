"""The activity log at depth: 100,000 activities for one user, straight to the service.

GET /activities?limit=20 requests/s at concurrency 32 (wrk); the latency of a keyset page
50,000 rows deep against the first page and against the same depth by offset; POST
/activities requests/s. Needs `wrk` (Debian: apt-get install wrk).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx

from bench.stack import bench_stack, percentile
from bench.summary import Summary
from sportslog_activities.pagination import Cursor, CursorSigner
from sportslog_auth.keys import load_signing_keys
from sportslog_auth.tokens import AccessTokenIssuer
from sportslog_testing import devstack
from sportslog_testing.devstack import with_database

ROWS = 100_000
DEPTH = 50_000
SAMPLES = 200
ISSUER, AUDIENCE = "http://localhost:8000", "sportslog"


def wrk(url: str, token: str, seconds: int = 10, script: str | None = None) -> dict[str, float]:
    args = [
        "wrk",
        "-t2",
        "-c32",
        f"-d{seconds}s",
        "--latency",
        "-H",
        f"Authorization: Bearer {token}",
    ]
    if script:
        args += ["-s", script]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rate,
        "p50": ms("50"),
        "p99": ms("99"),
        "errors": float(errors.group(1)) if errors else 0,
    }


def sequential_ms(url: str, token: str, n: int = SAMPLES) -> float:
    samples = []
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        for _ in range(n):
            started = time.perf_counter()
            r = client.get(url)
            samples.append(time.perf_counter() - started)
            assert r.status_code == 200, r.text
    return percentile(samples, 0.5) * 1000


async def main(summary: Summary) -> None:
    async with bench_stack() as stack:
        stack.jwt_issuer = ISSUER
        with tempfile.TemporaryDirectory() as logs:
            processes = devstack.start(stack, Path(logs), services=("auth", "activities"))
            try:
                await devstack.wait_ready(stack, processes, timeout=60)
                await run(stack, Path(logs), summary)
            finally:
                devstack.stop(processes)


async def run(stack: devstack.Stack, tmp: Path, summary: Summary) -> None:
    user_id = uuid.uuid4()
    keys = load_signing_keys(stack.key_file, [])
    token = AccessTokenIssuer(keys, ISSUER, AUDIENCE, 900).issue(
        user_id=user_id, email="bench@example.com", token_version=0, session_id=uuid.uuid4()
    )
    conn = await asyncpg.connect(with_database(stack.postgres_url, stack.databases["activities"]))
    start = datetime(2016, 1, 1, tzinfo=UTC)
    await conn.copy_records_to_table(
        "activities",
        records=[(user_id, "run", start + timedelta(hours=i), 1800, 5000.0) for i in range(ROWS)],
        columns=["user_id", "activity_type", "started_at", "duration_secs", "distance_meters"],
    )
    await conn.execute("ANALYZE activities")
    deep = await conn.fetchrow(
        "SELECT started_at, id FROM activities WHERE user_id = $1"
        " ORDER BY started_at DESC, id DESC OFFSET $2 LIMIT 1",
        user_id,
        DEPTH - 1,
    )
    await conn.close()
    cursor = CursorSigner(stack.cursor_secret.encode()).encode(
        Cursor(deep["started_at"], deep["id"]), user_id
    )
    base = f"{stack.url('activities')}/activities"

    listing = wrk(f"{base}?limit=20", token)
    first = sequential_ms(f"{base}?limit=20", token)
    by_cursor = sequential_ms(f"{base}?limit=20&cursor={cursor}", token)
    by_offset = sequential_ms(f"{base}?limit=20&offset={DEPTH}", token)

    script = tmp / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        'wrk.body = \'{"activity_type": "run", "started_at": "2026-05-01T07:00:00Z",'
        ' "duration_secs": 1800, "distance_meters": 5000}\'\n'
    )
    posting = wrk(base, token, script=str(script))

    print(
        f"activities: {ROWS:,} activities for one user; wrk -t2 -c32 -d10s straight to the service"
    )
    print(f"activities: GET /activities?limit=20  {_load(listing)}")
    print(
        f"activities: page latency (p50 of {SAMPLES}, one at a time): first {first:5.2f} ms, "
        f"cursor at {DEPTH:,} {by_cursor:5.2f} ms ({by_cursor / first:4.1f}x), "
        f"offset {DEPTH:,} {by_offset:6.2f} ms ({by_offset / first:4.1f}x)"
    )
    print(f"activities: POST /activities          {_load(posting)}")
    summary.add(
        "activities",
        f"page {DEPTH:,} deep of {ROWS:,}: cursor vs offset",
        f"{by_cursor:.2f} ms vs {by_offset:.2f} ms ({by_offset / by_cursor:.0f}x)",
    )
    summary.add("activities", "GET /activities?limit=20 req/s (direct)", f"{listing['rps']:.0f}")


def _load(figures: dict[str, float]) -> str:
    return (
        f"{figures['rps']:7.0f} req/s  p50 {figures['p50']:6.2f} ms  p99 {figures['p99']:6.2f} ms"
        f"  (non-2xx {figures['errors']:.0f})"
    )
