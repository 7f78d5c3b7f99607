"""Test fixtures shared by every test suite (a pytest plugin loaded by the root conftest).

Real PostgreSQL and RabbitMQ (DESIGN.md §7): each test session gets uniquely named
databases, exchanges and queues; fakes only for third parties (SMTP here).
"""

from sportslog_testing.helpers import free_port, wait_until
from sportslog_testing.oauth import (
    FakeUser,
    OAuthBrowser,
    OAuthProviderFake,
    oauth_fake,
    oauth_provider_server,
    pkce_pair,
)
from sportslog_testing.postgres import create_database, postgres_admin_url
from sportslog_testing.rabbitmq import BrokerNames, amqp_url, broker_names, event_publisher
from sportslog_testing.smtp import SmtpFake, smtp_fake
from sportslog_testing.twilio import TwilioFake, twilio_fake

__all__ = [
    "BrokerNames",
    "FakeUser",
    "OAuthBrowser",
    "OAuthProviderFake",
    "SmtpFake",
    "TwilioFake",
    "amqp_url",
    "broker_names",
    "create_database",
    "event_publisher",
    "free_port",
    "oauth_fake",
    "oauth_provider_server",
    "pkce_pair",
    "postgres_admin_url",
    "smtp_fake",
    "twilio_fake",
    "wait_until",
]
