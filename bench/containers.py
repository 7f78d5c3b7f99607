"""The service images (`make images`): their size, and seconds from `run` to /ready for
each container, first on fresh databases (every migration) and then restarted.

Containers run on the host's network, against the same PostgreSQL and RabbitMQ as the
other benchmarks; the images must have been built (`make images`)."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from bench.stack import bench_stack
from bench.summary import Summary
from sportslog_testing import devstack

IMAGES = "localhost/sportslog-{service}:latest"


def image_mb(engine: str, service: str) -> int | None:
    inspect = subprocess.run(
        [engine, "image", "inspect", "--format", "{{.Size}}", IMAGES.format(service=service)],
        capture_output=True,
        text=True,
        check=False,
    )
    return int(inspect.stdout) // 1_000_000 if inspect.returncode == 0 else None


async def ready_times(stack: devstack.Stack, logs: Path) -> dict[str, float]:
    """Start all four at once; each one's seconds until its /ready first answers 200."""
    processes = devstack.start(stack, logs)
    try:
        return await devstack.wait_each_ready(stack, processes, timeout=90)
    finally:
        devstack.stop(processes)


async def main(summary: Summary) -> None:
    engine = devstack.container_engine()
    sizes = {service: image_mb(engine, service) for service in devstack.SERVICES}
    if None in sizes.values():
        print("containers: no images yet: run `make images` first")
        return
    async with bench_stack() as stack:
        stack.images = IMAGES
        with tempfile.TemporaryDirectory() as logs:
            fresh = await ready_times(stack, Path(logs))
            migrated = await ready_times(stack, Path(logs))
    for service in devstack.SERVICES:
        figure = f"{sizes[service]} MB, ready in {fresh[service]:.2f} s / {migrated[service]:.2f} s"
        print(f"containers: {service:<11} {figure}")
        summary.add("containers", f"{service} image size, ready fresh / migrated DB", figure)
