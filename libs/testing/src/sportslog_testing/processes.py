"""Service processes a test starts for itself (to kill, stop or starve them), each ended at
teardown even when the test fails. Started with `devstack`, as `make dev` and tests/e2e do."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path
from typing import Any

from sportslog_testing import devstack
from sportslog_testing.helpers import free_port


class ServiceProcesses:
    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self._started: list[subprocess.Popen[bytes]] = []

    async def start(
        self, config: devstack.Stack, *services: str, timeout: float = 60
    ) -> dict[str, subprocess.Popen[bytes]]:
        """Start `services` with `config` and wait until each answers `/ready`."""
        processes = devstack.start(config, self.log_dir, services=services)
        self._started.extend(processes.values())
        try:
            await devstack.wait_ready(config, processes, timeout=timeout)
        except Exception as exc:
            raise RuntimeError(f"{exc}\n{self.logs(*services)}") from exc
        return processes

    async def start_beside(
        self, stack: devstack.Stack, *services: str, extra_env: dict[str, str] | None = None
    ) -> devstack.Stack:
        """More `services` processes beside `stack`'s, on free ports, with `extra_env` added
        to the stack's settings (e.g. rate limits out of a test's way); returns their config."""
        config = beside(stack, *services, extra_env=extra_env)
        await self.start(config, *services)
        return config

    async def start_alone(
        self,
        stack: devstack.Stack,
        service: str,
        *,
        database: str | None = None,
        extra_env: dict[str, str] | None = None,
        **changes: Any,
    ) -> tuple[devstack.Stack, subprocess.Popen[bytes]]:
        """One more `service` process beside `stack`'s, on a free port: on its own
        `database` if given (else the stack's), with `changes` to the stack's settings
        (e.g. `postgres_url`, `events_exchange`)."""
        if database:
            changes["databases"] = {**stack.databases, service: database}
        config = beside(stack, service, extra_env=extra_env, **changes)
        started = await self.start(config, service)
        return config, started[service]

    def logs(self, *services: str, chars: int = 3000) -> str:
        parts = []
        for service in services:
            path = self.log_dir / f"{service}.log"
            text = path.read_text(errors="replace")[-chars:] if path.exists() else ""
            parts.append(f"----- {service}.log\n{text}")
        return "\n".join(parts)

    def stop_all(self) -> None:
        devstack.stop({str(i): p for i, p in enumerate(self._started)})


def beside(
    stack: devstack.Stack,
    *services: str,
    extra_env: dict[str, str] | None = None,
    **changes: Any,
) -> devstack.Stack:
    """`stack`'s settings for more processes of `services`: free ports, `extra_env` added."""
    return dataclasses.replace(
        stack,
        ports={**stack.ports, **{service: free_port() for service in services}},
        extra_env={**stack.extra_env, **(extra_env or {})},
        **changes,
    )
