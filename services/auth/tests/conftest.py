import base64
import os
import uuid

import aio_pika
import httpx
import pytest
from asgi_lifespan import LifespanManager

from sportslog_auth.app import create_app
from sportslog_auth.keys import generate_private_pem
from sportslog_auth.settings import AuthSettings
from sportslog_common.events import Envelope
from sportslog_common.sealing import Sealer
from sportslog_testing import wait_until

SEAL_KEY = base64.b64encode(os.urandom(32)).decode()

INTERNAL_KEY = "i" * 32


@pytest.fixture(scope="session")
async def auth_db(create_database) -> str:
    return await create_database("auth")


@pytest.fixture(scope="session")
def key_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("keys") / "jwt.pem"
    path.write_bytes(generate_private_pem())
    return path


@pytest.fixture
def settings(auth_db, key_file, broker_names, amqp_url) -> AuthSettings:
    return AuthSettings(
        database_url=auth_db,
        amqp_url=amqp_url,
        events_exchange=broker_names.exchange,
        dead_letter_exchange=broker_names.dead_letter_exchange,
        jwt_private_key_file=key_file,
        jwt_issuer="http://auth.test",
        jwt_audience="sportslog",
        token_hmac_secret="h" * 32,
        internal_api_key=INTERNAL_KEY,
        event_seal_key=SEAL_KEY,
        # Cheap argon2 for tests; test_passwords checks the production defaults.
        argon2_time_cost=1,
        argon2_memory_kib=64,
        argon2_parallelism=1,
        db_pool_min_size=1,
        db_pool_max_size=5,
        # Every test's client comes from one IP: per-IP limits are tested in test_throttling.
        login_max_failures_per_ip=100_000,
    )


@pytest.fixture
async def app(settings):
    application = create_app(settings)
    async with LifespanManager(application, startup_timeout=30, shutdown_timeout=30):
        yield application


@pytest.fixture
async def client(app):
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://auth") as c:
        yield c


class EventProbe:
    """Every event auth publishes on this test's exchange, read from a queue bound to '#'."""

    def __init__(self, queue) -> None:
        self.queue = queue
        self.seen: list[Envelope] = []

    async def wait_for(self, event_type: str, email: str | None = None, **data) -> Envelope:
        async def probe():
            while (message := await self.queue.get(no_ack=True, fail=False)) is not None:
                self.seen.append(Envelope.model_validate_json(message.body))
            for env in self.seen:
                matches = all(str(env.data.get(k)) == str(v) for k, v in data.items())
                if env.type == event_type and matches and email in (None, env.data.get("email")):
                    self.seen.remove(env)
                    return env
            return None

        return await wait_until(probe, message=f"{event_type} {email or ''} {data}")


@pytest.fixture
async def events(app, broker_names, amqp_url):
    conn = await aio_pika.connect(amqp_url)
    channel = await conn.channel()
    exchange = await channel.get_exchange(broker_names.exchange)
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind(exchange, routing_key="#")
    yield EventProbe(queue)
    await conn.close()


@pytest.fixture
def sealer() -> Sealer:
    return Sealer(SEAL_KEY)


@pytest.fixture
def new_email():
    def make() -> str:
        return f"u{uuid.uuid4().hex[:12]}@example.com"

    return make


@pytest.fixture
def signup(client, events, sealer):
    """Register and verify an account; returns (email, password, token response)."""

    async def run(email: str, password: str = "correct horse") -> dict:
        r = await client.post("/auth/register", json={"email": email, "password": password})
        assert r.status_code == 202
        env = await events.wait_for("user.registered", email)
        token = sealer.open(env.data["verify_token"])
        r = await client.post("/auth/verify-email", json={"token": token})
        assert r.status_code == 200, r.text
        return r.json()

    return run
