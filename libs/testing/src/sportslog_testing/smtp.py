from __future__ import annotations

import asyncio
import email
import email.policy
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import pytest

from sportslog_testing.helpers import free_port, wait_until


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    received_at: float = 0.0  # time.time() when DATA was accepted

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""


class MailSource:
    """What the tests read mail from: the SMTP fake, or a sink's Maildir (maildir.py)."""

    @property
    def messages(self) -> list[ReceivedMail]:
        raise NotImplementedError

    def to(self, address: str) -> list[ReceivedMail]:
        return [m for m in self.messages if address in m.rcpt_tos]

    async def wait_for(self, address: str, count: int = 1, timeout: float = 15) -> ReceivedMail:
        """The `count`-th message to `address`, waiting for it up to `timeout` seconds."""
        mails = await wait_until(
            lambda: found if len(found := self.to(address)) >= count else None,
            timeout=timeout,
            message=f"{count} email(s) to {address}",
        )
        return mails[count - 1]


class _Collector:
    def __init__(self) -> None:
        self.messages: list[ReceivedMail] = []
        self.lock = threading.Lock()
        self.delay_seconds = 0.0  # a slow server: DATA is acknowledged this much later
        self.in_progress = 0

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        # A mailbox that does not exist, for permanent-failure tests.
        if address.startswith("nobody"):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.delay_seconds:
            with self.lock:
                self.in_progress += 1
            await asyncio.sleep(self.delay_seconds)
            with self.lock:
                self.in_progress -= 1
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.messages.append(
                ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), parsed, time.time())
            )
        return "250 Message accepted for delivery"


class SmtpFake(MailSource):
    """A real SMTP server (aiosmtpd) on a free port that keeps what it receives.

    `tls`: "starttls" offers (and requires) STARTTLS, "tls" speaks TLS from the first byte;
    both need `ssl_context`. `credentials`: AUTH is required with this login and password.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        tls: str = "none",
        ssl_context: ssl.SSLContext | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        from aiosmtpd.controller import Controller

        self._collector = _Collector()
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.logins: list[str] = []
        server: dict[str, Any] = {}
        if tls == "starttls":
            server.update(tls_context=ssl_context, require_starttls=True)
        if credentials is not None:
            server.update(authenticator=self._authenticator(credentials), auth_required=True)
            if tls == "tls":
                # aiosmtpd cannot see implicit TLS; the socket is TLS from the first byte.
                server.update(auth_require_tls=False)
        self._controller = Controller(
            self._collector,
            hostname=self.host,
            port=self.port,
            ssl_context=ssl_context if tls == "tls" else None,
            server_hostname="localhost",
            **server,
        )

    def _authenticator(self, credentials: tuple[str, str]) -> Any:
        from aiosmtpd.smtp import AuthResult

        def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
            login = data.login.decode() if isinstance(data.login, bytes) else data.login
            password = data.password.decode() if isinstance(data.password, bytes) else data.password
            ok = (login, password) == credentials
            if ok:
                self.logins.append(login)
            return AuthResult(success=ok, handled=False)

        return check

    def start(self) -> None:
        self._controller.start()

    def slow_down(self, seconds: float) -> None:
        self._collector.delay_seconds = seconds

    @property
    def in_progress(self) -> int:
        with self._collector.lock:
            return self._collector.in_progress

    def stop(self) -> None:
        self._controller.stop()

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._collector.lock:
            return list(self._collector.messages)


@pytest.fixture
def smtp_fake() -> Iterator[SmtpFake]:
    fake = SmtpFake()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
