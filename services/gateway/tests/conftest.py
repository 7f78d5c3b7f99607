from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from aiohttp import web
from asgi_lifespan import LifespanManager

from sportslog_gateway.app import create_app
from sportslog_gateway.settings import GatewaySettings
from sportslog_testing import free_port
from sportslog_testing.tokens import TokenMint

INTERNAL_KEY = "i" * 32


@pytest.fixture(scope="session")
def mint() -> TokenMint:
    return TokenMint()


@pytest.fixture
def settings(amqp_url, broker_names, mint) -> GatewaySettings:
    # Upstreams on ports nobody listens on: these tests never need one to answer.
    return GatewaySettings(
        amqp_url=amqp_url,
        events_exchange=broker_names.exchange,
        dead_letter_exchange=broker_names.dead_letter_exchange,
        auth_url=f"http://127.0.0.1:{free_port()}",
        activities_url=f"http://127.0.0.1:{free_port()}",
        jwks_url="http://auth.test/.well-known/jwks.json",
        jwt_issuer=mint.issuer,
        jwt_audience=mint.audience,
        max_body_bytes=2048,
        internal_api_key=INTERNAL_KEY,
        max_import_bytes=8192,
    )


@pytest.fixture
async def client(settings, mint):
    app = create_app(settings, jwks_transport=mint.transport())
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as c:
            yield c


@dataclass
class Seen:
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class Probe:
    """An upstream that records each request it receives and, standing in for auth's
    internal endpoint as TokenMint stands in for its JWKS, says every token is current."""

    url: str
    seen: list[Seen] = field(default_factory=list)

    def header(self, name: str) -> list[str]:
        return [v for k, v in self.seen[-1].headers if k.lower() == name.lower()]


@pytest.fixture
async def probe() -> AsyncIterator[Probe]:
    port = free_port()
    found = Probe(f"http://127.0.0.1:{port}")

    async def record(request: web.Request) -> web.Response:
        body = await request.read()
        if request.path.startswith("/internal/"):
            return web.json_response({"token_version": 0, "revoked_sessions": []})
        found.seen.append(Seen(request.method, request.path, list(request.headers.items()), body))
        return web.json_response({"ok": True})

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", record)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield found
    await runner.cleanup()
