"""`make dev`'s PostgreSQL and RabbitMQ as containers, on a machine that has podman or docker
but not the servers (issue 18 point 9). The images are the local Debian ones
(scripts/local-images.sh) when built, else the public ones; the data lives in a named
volume; the containers keep running after `make dev` stops, and say how to stop them."""

from __future__ import annotations

import asyncio
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aio_pika
import asyncpg

from sportslog_testing import devstack

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class Server:
    kind: str  # "postgres" or "rabbitmq"
    url: str
    container_port: int
    local_image: str
    public_image: str

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or self.container_port

    @property
    def name(self) -> str:
        """Named after the published port: `make dev` at another port gets its own."""
        return f"sportslog-dev-{self.kind}-{self.port}"

    def env(self) -> dict[str, str]:
        parts = urlsplit(self.url)
        user, password = unquote(parts.username or ""), unquote(parts.password or "")
        if self.kind == "postgres":
            auth = {"POSTGRES_PASSWORD": password} if password else {}
            method = "scram-sha-256" if password else "trust"  # the URL has no password
            return {
                "POSTGRES_USER": user or "postgres",
                "POSTGRES_HOST_AUTH_METHOD": method,
                **auth,
            }
        return {
            "RABBITMQ_DEFAULT_USER": user or "guest",
            "RABBITMQ_DEFAULT_PASS": password or "guest",
        }

    @property
    def data_dir(self) -> str:
        return "/var/lib/postgresql/data" if self.kind == "postgres" else "/var/lib/rabbitmq"


def servers(postgres_url: str, amqp_url: str) -> dict[str, Server]:
    return {
        "postgres": Server(
            "postgres",
            postgres_url,
            5432,
            "localhost/sportslog-postgres:15",
            "docker.io/library/postgres:15",
        ),
        "rabbitmq": Server(
            "rabbitmq",
            amqp_url,
            5672,
            "localhost/sportslog-rabbitmq:3",
            "docker.io/library/rabbitmq:3",
        ),
    }


def engine() -> str | None:
    try:
        return devstack.container_engine()
    except RuntimeError:  # neither podman nor docker
        return None


def can_start(server: Server) -> bool:
    """Only a server this machine would run itself: an engine, and a loopback URL."""
    return engine() is not None and urlsplit(server.url).hostname in LOOPBACK


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    command = [str(engine()), *args]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def _image(server: Server) -> str:
    if _run("image", "inspect", server.local_image).returncode == 0:
        return server.local_image
    if _run("pull", "--quiet", server.public_image).returncode == 0:
        return server.public_image
    print(f"make dev: no image registry: building {server.local_image} (once)", flush=True)
    built = subprocess.run(["bash", str(ROOT / "scripts/local-images.sh")], check=False)
    if built.returncode != 0:
        raise SystemExit(f"make dev: could not build {server.local_image}")
    return server.local_image


def start(server: Server) -> str:
    """Start (or restart) the server's container; the line that tells the user."""
    volume = server.name
    if _run("container", "inspect", server.name).returncode == 0:
        started = _run("start", server.name)
    else:
        image = _image(server)
        env = [arg for key, value in server.env().items() for arg in ("-e", f"{key}={value}")]
        started = _run(
            "run", "-d", "--name", server.name, "--hostname", server.name,
            "-p", f"127.0.0.1:{server.port}:{server.container_port}",
            "-v", f"{volume}:{server.data_dir}", *env, image,
        )  # fmt: skip
    if started.returncode != 0:
        raise SystemExit(f"make dev: could not start {server.name}: {started.stderr.strip()}")
    tool = Path(str(engine())).name
    return (
        f"{server.kind}: started as the container {server.name} ({tool}; data in the volume"
        f" {volume}). It keeps running after make dev; stop it with: {tool} stop {server.name}"
    )


async def wait_until_up(server: Server, timeout: float = 90.0) -> None:
    """Until the server answers a real client (a published port accepts before that)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if server.kind == "postgres":
                conn = await asyncpg.connect(server.url, timeout=3)
                await conn.close()
            else:
                connection = await aio_pika.connect(server.url, timeout=3)
                await connection.close()
            return
        except (OSError, asyncpg.PostgresError, aio_pika.exceptions.AMQPError, TimeoutError):
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"make dev: {server.name} did not come up in {timeout:.0f} s"
                ) from None
            await asyncio.sleep(0.5)
