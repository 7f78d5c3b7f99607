"""Seconds from launching the four services to every /ready answering, and idle RSS."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from bench.stack import bench_stack
from bench.summary import Summary, memory_kib
from sportslog_testing import devstack


async def main(summary: Summary) -> None:
    async with bench_stack() as stack:
        with tempfile.TemporaryDirectory() as logs:
            processes = devstack.start(stack, Path(logs))
            try:
                # First start applies every migration; the second is what a restart costs.
                cold = await devstack.wait_ready(stack, processes, timeout=90)
                devstack.stop(processes)
                processes = devstack.start(stack, Path(logs))
                warm = await devstack.wait_ready(stack, processes, timeout=90)
                await asyncio.sleep(3)  # let start-up garbage settle before reading RSS
            finally:
                pids = {name: p.pid for name, p in processes.items()}
                rss = {name: memory_kib(pid) for name, pid in pids.items()}
                summary.rss("startup", "idle", pids, peak=False)
                devstack.stop(processes)
    print(f"startup: ready (4 services, fresh databases)   {cold:6.2f} s")
    print(f"startup: ready (4 services, migrated)          {warm:6.2f} s")
    summary.add("startup", "4 services ready, fresh / migrated DBs", f"{cold:.2f} s / {warm:.2f} s")
    for name, kib in rss.items():
        print(f"startup: idle RSS {name:<11} {kib / 1024:7.1f} MiB")
