import base64
import os

import httpx
import pytest
from asgi_lifespan import LifespanManager

from sportslog_common.sealing import Sealer
from sportslog_notifier.app import create_app
from sportslog_notifier.settings import NotifierSettings
from sportslog_testing import SmtpFake, free_port, twilio

SEAL_KEY = base64.b64encode(os.urandom(32)).decode()


@pytest.fixture(scope="session")
async def notifier_db(create_database) -> str:
    return await create_database("notifier")


@pytest.fixture
def smtp_port():
    return free_port()


@pytest.fixture
def settings(
    notifier_db, broker_names, amqp_url, smtp_port, twilio_fake, tmp_path
) -> NotifierSettings:
    return NotifierSettings(
        twilio_account_sid=twilio.ACCOUNT_SID,
        twilio_auth_token=twilio.AUTH_TOKEN,
        twilio_from_number=twilio.FROM_NUMBER,
        twilio_api_base_url=twilio_fake.base_url,
        sms_log_file=str(tmp_path / "sms.log"),
        retry_backoff_base=0.2,
        database_url=notifier_db,
        amqp_url=amqp_url,
        events_exchange=broker_names.exchange,
        dead_letter_exchange=broker_names.dead_letter_exchange,
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_from="sports-log <no-reply@sportslog.example>",
        event_seal_key=SEAL_KEY,
        app_base_url="https://app.example",
        db_pool_min_size=1,
        db_pool_max_size=5,
    )


@pytest.fixture
def smtp(smtp_port):
    fake = SmtpFake(port=smtp_port)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
async def app(settings):
    application = create_app(settings)
    async with LifespanManager(application, startup_timeout=30, shutdown_timeout=30):
        yield application


@pytest.fixture
async def client(app):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notifier") as c:
        yield c


@pytest.fixture
async def publisher(app, event_publisher):
    """Publishes once the notifier (and so its queue) is up."""
    return event_publisher


@pytest.fixture
def sealer() -> Sealer:
    return Sealer(SEAL_KEY)
