import uuid

import httpx
import pytest
from asgi_lifespan import LifespanManager

from sportslog_activities.app import create_app
from sportslog_activities.settings import ActivitiesSettings
from sportslog_testing.tokens import TokenMint


@pytest.fixture(scope="session")
async def activities_db(create_database) -> str:
    return await create_database("activities")


@pytest.fixture(scope="session")
def mint() -> TokenMint:
    return TokenMint()


@pytest.fixture
def settings(activities_db, broker_names, amqp_url, mint) -> ActivitiesSettings:
    return ActivitiesSettings(
        database_url=activities_db,
        amqp_url=amqp_url,
        events_exchange=broker_names.exchange,
        dead_letter_exchange=broker_names.dead_letter_exchange,
        jwks_url="http://auth.test/.well-known/jwks.json",
        jwt_issuer=mint.issuer,
        jwt_audience=mint.audience,
        cursor_secret="c" * 32,
        max_device_data_bytes=64 * 1024,
        max_import_bytes=2 * 1024 * 1024,
        db_pool_min_size=1,
        db_pool_max_size=5,
    )


@pytest.fixture
async def app(settings, mint):
    application = create_app(settings, jwks_transport=mint.transport())
    async with LifespanManager(application, startup_timeout=30, shutdown_timeout=30):
        yield application


@pytest.fixture
async def client(app):
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://activities") as c:
        yield c


@pytest.fixture
def user(mint):
    """A fresh user: (user_id, auth headers)."""
    user_id = uuid.uuid4()
    return user_id, mint.headers(user_id)
