"""Run the four services as local processes: `make dev` and tests/e2e both use this.

Each service gets its own database and port; all share one broker exchange, one SMTP
server and one set of secrets. Nothing here imports a service: they are started with
`python -m sportslog_<name>`, exactly as their containers start them, or, with
`Stack.images` set, as those containers (`make images`), on the host's network so that
everything else stays as it is.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

SERVICES = ("auth", "activities", "notifier", "gateway")
DATABASES = {
    "auth": "sportslog_auth",
    "activities": "sportslog_activities",
    "notifier": "sportslog_notifier",
}


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@dataclass
class Stack:
    postgres_url: str  # any database on the server; each service gets its own
    amqp_url: str
    ports: dict[str, int]
    key_file: Path
    token_hmac_secret: str
    event_seal_key: str
    cursor_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    internal_api_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    databases: dict[str, str] = field(default_factory=lambda: dict(DATABASES))
    events_exchange: str = "sportslog.events"
    dead_letter_exchange: str = "sportslog.dead"
    app_base_url: str = "http://localhost:8000"
    jwt_issuer: str = "http://localhost:8000"
    jwt_audience: str = "sportslog"
    log_format: str = "console"
    extra_env: dict[str, str] = field(default_factory=dict)
    # e.g. "localhost/sportslog-{service}:latest": run each service's image instead of a
    # process (podman, else docker), listening on 127.0.0.1 of the host's network.
    images: str | None = None

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def env(self, service: str) -> dict[str, str]:
        common = {
            "AMQP_URL": self.amqp_url,
            "PORT": str(self.ports[service]),
            "LOG_FORMAT": self.log_format,
            "EVENTS_EXCHANGE": self.events_exchange,
            "DEAD_LETTER_EXCHANGE": self.dead_letter_exchange,
            "JWT_ISSUER": self.jwt_issuer,
            "JWT_AUDIENCE": self.jwt_audience,
            "APP_BASE_URL": self.app_base_url,
        }
        if service in self.databases:
            common["DATABASE_URL"] = with_database(self.postgres_url, self.databases[service])
        jwks = f"{self.url('auth')}/.well-known/jwks.json"
        specific = {
            "auth": {
                "JWT_PRIVATE_KEY_FILE": str(self.key_file),
                "TOKEN_HMAC_SECRET": self.token_hmac_secret,
                "EVENT_SEAL_KEY": self.event_seal_key,
                "INTERNAL_API_KEY": self.internal_api_key,
            },
            "activities": {"JWKS_URL": jwks, "CURSOR_SECRET": self.cursor_secret},
            "notifier": {
                "SMTP_HOST": self.smtp_host,
                "SMTP_PORT": str(self.smtp_port),
                "EVENT_SEAL_KEY": self.event_seal_key,
            },
            "gateway": {
                "AUTH_URL": self.url("auth"),
                "ACTIVITIES_URL": self.url("activities"),
                "JWKS_URL": jwks,
                "INTERNAL_API_KEY": self.internal_api_key,
            },
        }[service]
        return {**common, **specific, **self.extra_env}


async def create_databases(stack: Stack) -> None:
    conn = await asyncpg.connect(stack.postgres_url)
    try:
        existing = {r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database")}
        for name in stack.databases.values():
            if name not in existing:
                await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


CONTAINER_KEY_FILE = "/run/secrets/jwt_ed25519.pem"


def container_engine() -> str:
    engine = shutil.which("podman") or shutil.which("docker")
    if engine is None:
        raise RuntimeError("running the images needs podman or docker")
    return engine


def _container(stack: Stack, service: str, env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """`<engine> run` of the service's image, and the environment to run it in: attached,
    so the Popen lives as long as the container and SIGTERM reaches the service (the engine
    proxies signals)."""
    assert stack.images is not None
    env = {**env, "HOST": "127.0.0.1"}
    volumes = []
    if "JWT_PRIVATE_KEY_FILE" in env:
        volumes = ["-v", f"{env['JWT_PRIVATE_KEY_FILE']}:{CONTAINER_KEY_FILE}:ro"]
        env["JWT_PRIVATE_KEY_FILE"] = CONTAINER_KEY_FILE
    name = f"sportslog-{service}-{secrets.token_hex(4)}"
    # `-e NAME` takes the value from the engine's environment: no secret on a command line.
    names = [arg for key in env for arg in ("-e", key)]
    image = stack.images.format(service=service)
    run = [container_engine(), "run", "--rm", "--pull=never", "--name", name, "--network=host"]
    return [*run, *names, *volumes, image], env


def container_name(process: subprocess.Popen[bytes]) -> str | None:
    args = list(process.args) if isinstance(process.args, list | tuple) else []
    return str(args[args.index("--name") + 1]) if "--name" in args else None


def start(
    stack: Stack, log_dir: Path | None = None, services: tuple[str, ...] = SERVICES
) -> dict[str, subprocess.Popen[bytes]]:
    processes: dict[str, subprocess.Popen[bytes]] = {}
    for service in services:
        out: IO[bytes] | None = None
        if log_dir is not None:
            out = (log_dir / f"{service}.log").open("ab")
        env = stack.env(service)
        if stack.images is None:
            argv = [sys.executable, "-m", f"sportslog_{service}"]
        else:
            argv, env = _container(stack, service, env)
        processes[service] = subprocess.Popen(  # noqa: S603 (our own interpreter, or image)
            argv,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
        )
        if out is not None:
            out.close()  # the child holds its own descriptor
    return processes


async def wait_ready(
    stack: Stack,
    processes: dict[str, subprocess.Popen[bytes]],
    timeout: float = 60.0,
) -> float:
    """Seconds until every service answers /ready with 200; raises if one dies or times out."""
    return max((await wait_each_ready(stack, processes, timeout)).values(), default=0.0)


async def wait_each_ready(
    stack: Stack,
    processes: dict[str, subprocess.Popen[bytes]],
    timeout: float = 60.0,
) -> dict[str, float]:
    """Each service's seconds until its /ready first answers 200, counted from now."""
    started = time.monotonic()
    ready: dict[str, float] = {}
    async with httpx.AsyncClient(timeout=2) as client:
        while len(ready) < len(processes):
            for service in set(processes) - set(ready):
                code = processes[service].poll()
                if code is not None:
                    raise RuntimeError(f"{service} exited with code {code} during start-up")
                try:
                    response = await client.get(f"{stack.url(service)}/ready")
                except httpx.HTTPError:
                    continue
                if response.status_code == 200:
                    ready[service] = time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise TimeoutError(
                    f"not ready after {timeout}s: {sorted(set(processes) - set(ready))}"
                )
            await asyncio.sleep(0.05)
    return ready


def stop(processes: dict[str, subprocess.Popen[bytes]], timeout: float = 20.0) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        name = container_name(process)
        if name is not None:  # the engine's client is gone; make sure its container is
            subprocess.run(  # noqa: S603
                [container_engine(), "rm", "-f", name],
                capture_output=True,
                check=False,
            )
