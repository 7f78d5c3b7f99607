"""`make bench`: figures, not assertions. `make bench ONLY=login` runs one benchmark."""

from __future__ import annotations

import asyncio
import sys
import time

from bench import activities, containers, gateway, login, notifier, startup
from bench.summary import Summary

BENCHMARKS = {
    "startup": startup.main,
    "login": login.main,
    "activities": activities.main,
    "notifier": notifier.main,
    "gateway": gateway.main,
    "containers": containers.main,
}


def main() -> None:
    names = sys.argv[1:] or list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        sys.exit(f"unknown benchmark {', '.join(unknown)}; one of {', '.join(BENCHMARKS)}")
    summary = Summary()
    for name in names:
        started = time.monotonic()
        asyncio.run(BENCHMARKS[name](summary))
        print(f"({name}: {time.monotonic() - started:.1f} s)\n")
    print(summary.render())


if __name__ == "__main__":
    main()
