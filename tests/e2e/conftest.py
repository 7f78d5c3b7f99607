"""Starts the four services as real processes on free ports, with real PostgreSQL and
RabbitMQ, the SMTP fake as the mail server, and drives them through the gateway only.

With SPORTSLOG_E2E_IMAGES set (e.g. "localhost/sportslog-{service}:latest", what `make
test-containers` sets), the services run as those images' containers instead: the same
tests then prove the images. With SPORTSLOG_E2E_COMPOSE=1 the whole compose.yaml stack runs
(sportslog_testing.compose), and the journeys that need only the gateway and the mail
(`make test-containers` lists them) drive its published gateway and read its mail sink."""

import base64
import contextlib
import os
import re
import uuid
from pathlib import Path

import aio_pika
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sportslog_common.bus.topology import CONSUMER_BINDINGS, queue_name, retry_queue_name
from sportslog_testing import SmtpFake, TwilioFake, devstack, free_port, twilio
from sportslog_testing.compose import ComposeStack
from sportslog_testing.maildir import MaildirMail
from sportslog_testing.processes import ServiceProcesses
from sportslog_testing.rabbitmq import new_broker_names

COMPOSE = os.environ.get("SPORTSLOG_E2E_COMPOSE") == "1"


@pytest.fixture(scope="session")
def compose_stack(tmp_path_factory):
    stack = ComposeStack(tmp_path_factory.mktemp("compose"))
    try:
        stack.up()
        yield stack
    finally:
        stack.down()


@pytest.fixture(scope="session")
def smtp_server(request):
    if COMPOSE:
        yield MaildirMail(request.getfixturevalue("compose_stack").mail_dir)
        return
    fake = SmtpFake()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
async def sms_server():
    fake = TwilioFake()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture(scope="session")
def signing_key(tmp_path_factory) -> tuple[Path, Ed25519PrivateKey]:
    key = Ed25519PrivateKey.generate()
    path = tmp_path_factory.mktemp("e2e-keys") / "jwt.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path, key


@pytest.fixture(scope="session")
def stack(request):
    if COMPOSE:
        yield request.getfixturevalue("compose_stack")
    else:
        yield request.getfixturevalue("process_stack")


@pytest.fixture(scope="session")
async def process_stack(
    create_database,
    postgres_admin_url,
    amqp_url,
    smtp_server,
    sms_server,
    oauth_provider_server,
    signing_key,
    tmp_path_factory,
):
    names = new_broker_names()
    databases = {}
    for service in devstack.DATABASES:
        url = await create_database(f"e2e_{service}")
        databases[service] = url.rsplit("/", 1)[1]
    config = devstack.Stack(
        postgres_url=postgres_admin_url,
        amqp_url=amqp_url,
        ports={service: free_port() for service in devstack.SERVICES},
        key_file=signing_key[0],
        token_hmac_secret=base64.b64encode(os.urandom(32)).decode(),
        event_seal_key=base64.b64encode(os.urandom(32)).decode(),
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        databases=databases,
        events_exchange=names.exchange,
        dead_letter_exchange=names.dead_letter_exchange,
        app_base_url="https://app.example",
        jwt_issuer="https://sportslog.example",
        log_format="json",
        # Cheap argon2 keeps the suite fast; tests in services/auth check the real ones.
        extra_env={
            "ARGON2_TIME_COST": "1",
            "ARGON2_MEMORY_KIB": "1024",
            "LOG_LEVEL": "INFO",
            # Every journey comes from 127.0.0.1: limits are tested in services/gateway.
            "RATE_LIMIT_AUTH": "100000/minute",
            "LOGIN_MAX_FAILURES_PER_IP": "100000",
            "TWILIO_ACCOUNT_SID": twilio.ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": twilio.AUTH_TOKEN,
            "TWILIO_FROM_NUMBER": twilio.FROM_NUMBER,
            "TWILIO_API_BASE_URL": sms_server.base_url,
            # Google, Facebook, Discord and an OIDC provider "keycloak", all played by the fake.
            **oauth_provider_server.env(),
            "OAUTH_TOKEN_ENCRYPTION_KEY": base64.b64encode(os.urandom(32)).decode(),
        },
        images=os.environ.get("SPORTSLOG_E2E_IMAGES") or None,
    )
    log_dir = tmp_path_factory.mktemp("e2e-logs")
    processes = devstack.start(config, log_dir)
    try:
        await devstack.wait_ready(config, processes, timeout=60)
    except Exception:
        devstack.stop(processes)
        for log in sorted(log_dir.glob("*.log")):
            print(f"----- {log.name}\n{log.read_text()[-4000:]}")
        raise
    yield config
    devstack.stop(processes)
    await _delete_broker_objects(amqp_url, names)


async def _delete_broker_objects(amqp_url, names):
    connection = await aio_pika.connect(amqp_url)
    try:
        queues = [queue_name(names.exchange, c) for c in CONSUMER_BINDINGS]
        queues += [retry_queue_name(q) for q in queues]
        for queue in [*queues, names.dead_letter_exchange]:
            with contextlib.suppress(Exception):
                await (await connection.channel()).queue_delete(queue)
        for exchange in (names.exchange, names.dead_letter_exchange):
            with contextlib.suppress(Exception):
                await (await connection.channel()).exchange_delete(exchange)
    finally:
        await connection.close()


@pytest.fixture
async def gateway(stack):
    async with httpx.AsyncClient(base_url=stack.url("gateway"), timeout=15) as client:
        yield client


@pytest.fixture
def new_email():
    return lambda: f"e2e-{uuid.uuid4().hex[:12]}@example.com"


@pytest.fixture
def processes(tmp_path):
    """Service processes a test starts next to the stack; every one stopped afterwards."""
    started = ServiceProcesses(tmp_path)
    yield started
    started.stop_all()


@pytest.fixture
async def user_headers(gateway, smtp_server, new_email) -> dict[str, str]:
    """A signed-up, verified user of the stack: its token is good at any service process
    that shares the stack's signing key."""
    email = new_email()
    await gateway.post("/auth/register", json={"email": email, "password": "a long enough secret"})
    mail = await smtp_server.wait_for(email)
    token = re.search(r"token=([A-Za-z0-9_\-]+)", mail.text()).group(1)  # type: ignore[union-attr]
    r = await gateway.post("/auth/verify-email", json={"token": token})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}
