"""`make dev`: the whole system on this machine, in the foreground, until Ctrl-C.

Needs PostgreSQL and RabbitMQ (POSTGRES_URL / AMQP_URL, defaults below); where one does not
answer and podman or docker is installed, it is started as a container. Creates the
databases and, once, the dev signing key and secrets under var/; an exported variable
always wins over them. Mail goes to a local SMTP sink that writes var/mail/*.eml, unless
SMTP_HOST is exported (then to that server).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import signal
import socket
import sys
import time
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dev_servers

from sportslog_testing import devstack

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
POSTGRES_URL = os.environ.get("POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_URL = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
PORTS = {"gateway": 8000, "auth": 8001, "activities": 8002, "notifier": 8003}
SINK_PORT = 1025
# Settings an operator may export to change the dev defaults (docs/operations.md, "Configuration").
OVERRIDABLE_PREFIXES = (
    "SMTP_",
    "TWILIO_",
    "ARGON2_",
    "RATE_LIMIT_",
    "GOOGLE_",
    "FACEBOOK_",
    "DISCORD_",
    "OIDC_",
    "LOGIN_MAX_",
    "PRUNE_",
)
OVERRIDABLE = {
    "LOG_LEVEL",
    "LOG_FORMAT",
    "APP_BASE_URL",
    "CORS_ORIGINS",
    "TRUSTED_PROXIES",
    "ACCESS_TOKEN_TTL_SECONDS",
    "REFRESH_TOKEN_TTL_SECONDS",
    "UPSTREAM_TIMEOUT_SECONDS",
    "MAX_BODY_BYTES",
    "MAX_IMPORT_BYTES",
    "MAX_DEVICE_DATA_BYTES",
    "JWT_PREVIOUS_PUBLIC_KEY_FILES",
    "OAUTH_TOKEN_ENCRYPTION_KEY",
    "OAUTH_REDIRECT_ORIGINS",
    "OAUTH_PROVIDER_TIMEOUT_SECONDS",
    "REFRESH_TOKEN_RETENTION_DAYS",
    "SESSION_RETENTION_DAYS",
    "OTP_CHALLENGE_RETENTION_DAYS",
    "PENDING_REGISTRATION_RETENTION_DAYS",
    "OTP_MAX_FAILURES_PER_DAY",
    "SMS_DAILY_BUDGET",
    "PROCESSED_EVENT_RETENTION_DAYS",
    "DELIVERY_RETENTION_DAYS",
}


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 3
        ):
            return True
    except OSError:
        return False


async def ensure_servers() -> None:
    """PostgreSQL and RabbitMQ must answer. One that does not, at a loopback URL on a
    machine with podman or docker, is started as a container (dev_servers.py); otherwise
    make dev stops and says how to start it."""
    problems = []
    wanted = dev_servers.servers(POSTGRES_URL, AMQP_URL)
    hints = {
        "postgres": (
            "PostgreSQL",
            POSTGRES_URL,
            5432,
            "POSTGRES_URL",
            "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
        ),
        "rabbitmq": ("RabbitMQ", AMQP_URL, 5672, "AMQP_URL", "rabbitmq-server -detached"),
    }
    for kind, (label, url, port, variable, command) in hints.items():
        if reachable(url, port):
            continue
        server = wanted[kind]
        if dev_servers.can_start(server):
            print(f"make dev: {label} is not reachable at {_safe(url)}", flush=True)
            print(f"make dev: {dev_servers.start(server)}", flush=True)
            await dev_servers.wait_until_up(server)
            continue
        problems.append(
            f"{label} is not reachable at {_safe(url)} ({variable}).\n"
            f"    Start it, e.g.: {command}\n"
            "    (or install podman or docker: make dev then starts it as a container)"
        )
    if problems:
        print("make dev cannot start:\n  " + "\n  ".join(problems), file=sys.stderr)
        raise SystemExit(1)


def _safe(url: str) -> str:
    parts = urlsplit(url)
    host = f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)
    return f"{parts.scheme}://{host}{parts.path}"


def dev_secrets() -> dict[str, str]:
    """var/dev.env, generated once; exported variables win over it."""
    path = VAR / "dev.env"
    if not path.exists():

        def key() -> str:
            return base64.b64encode(os.urandom(32)).decode()

        path.write_text(
            f"TOKEN_HMAC_SECRET={base64.urlsafe_b64encode(os.urandom(48)).decode()}\n"
            f"EVENT_SEAL_KEY={key()}\nOAUTH_TOKEN_ENCRYPTION_KEY={key()}\n"
        )
        path.chmod(0o600)
    values = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    for name in ("CURSOR_SECRET", "INTERNAL_API_KEY"):  # added after the first dev.env files
        if name not in values:
            values[name] = base64.urlsafe_b64encode(os.urandom(48)).decode()
            with path.open("a") as out:
                out.write(f"{name}={values[name]}\n")
    return {name: os.environ.get(name, value) for name, value in values.items()}


def signing_key() -> Path:
    exported = os.environ.get("JWT_PRIVATE_KEY_FILE")
    if exported:
        return Path(exported)
    path = VAR / "jwt_ed25519.pem"
    if not path.exists():
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.write_bytes(pem)
        path.chmod(0o600)
    return path


class MailDirSink:
    """The dev mail sink: every message received becomes var/mail/<time>-<n>.eml."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.count += 1
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{self.count:04d}.eml"
        (self.folder / name).write_bytes(envelope.content)
        message = BytesParser(policy=default_policy).parsebytes(envelope.content)
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        # Dev convenience: the mail's links and one-time codes, right on the console.
        links = " ".join(
            re.findall(r"https?://\S+", text) + re.findall(r"(?<!\d)\d{6}(?!\d)", text)
        )
        print(
            f"[mail] {', '.join(envelope.rcpt_tos)}: {message['Subject']} -> var/mail/{name}"
            + (f"\n[mail]   {links}" if links else ""),
            flush=True,
        )
        return "250 Message accepted for delivery"


async def main() -> None:
    started = time.monotonic()
    await ensure_servers()
    (VAR / "mail").mkdir(parents=True, exist_ok=True)
    secrets = dev_secrets()
    extra = {
        k: v
        for k, v in os.environ.items()
        if k in OVERRIDABLE or k.startswith(OVERRIDABLE_PREFIXES)
    }
    extra.setdefault("OAUTH_TOKEN_ENCRYPTION_KEY", secrets["OAUTH_TOKEN_ENCRYPTION_KEY"])
    sink = None
    if "SMTP_HOST" not in os.environ:
        from aiosmtpd.controller import Controller

        sink = Controller(MailDirSink(VAR / "mail"), hostname="127.0.0.1", port=SINK_PORT)
        sink.start()
    stack = devstack.Stack(
        postgres_url=POSTGRES_URL,
        amqp_url=AMQP_URL,
        ports=PORTS,
        key_file=signing_key(),
        token_hmac_secret=secrets["TOKEN_HMAC_SECRET"],
        event_seal_key=secrets["EVENT_SEAL_KEY"],
        cursor_secret=secrets["CURSOR_SECRET"],
        internal_api_key=secrets["INTERNAL_API_KEY"],
        smtp_port=SINK_PORT,
        app_base_url=os.environ.get("APP_BASE_URL", "http://localhost:8000"),
        jwt_issuer=os.environ.get("JWT_ISSUER", "http://localhost:8000"),
        extra_env=extra,
    )
    await devstack.create_databases(stack)
    processes = devstack.start(stack)
    stop_event = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop_event.set)
    try:
        await devstack.wait_ready(stack, processes, timeout=90)
        print(
            f"\nsports-log is up in {time.monotonic() - started:.1f}s: "
            f"gateway http://127.0.0.1:{PORTS['gateway']}  (Ctrl-C stops everything)\n"
            f"  mail -> {'var/mail/' if sink else os.environ['SMTP_HOST']}\n",
            flush=True,
        )
        while not stop_event.is_set():
            dead = [name for name, p in processes.items() if p.poll() is not None]
            if dead:
                print(f"{', '.join(dead)} exited; stopping.", file=sys.stderr)
                raise SystemExit(1)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_event.wait(), timeout=1)
    finally:
        devstack.stop(processes)
        if sink is not None:
            sink.stop()


if __name__ == "__main__":
    asyncio.run(main())
